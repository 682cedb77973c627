package service

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"realtime/pkg/envconfig"
)

// Config is the notify worker's settings. Its variables are prefixed
// NOTIFY_ because in embedded mode every service reads the same
// environment; LOG_LEVEL is shared and only used by notify's own main.
type Config struct {
	// DedupeWindow is how long an event id is remembered so that a
	// redelivered event is dropped. Redeliveries follow a consumer restart
	// or rebalance within seconds; the window bounds the memory the ids
	// take (one entry per event).
	DedupeWindow time.Duration `env:"NOTIFY_DEDUPE_WINDOW" envDefault:"2m"`
	// ReadTTL is how long a read receipt is kept in Redis (distributed
	// mode) after it was marked, so that receipts cannot grow without
	// bound; a user's receipts expire together ReadTTL after the user's
	// last one. The in-memory store keeps them for the process's life.
	ReadTTL time.Duration `env:"NOTIFY_READ_TTL" envDefault:"720h"`
	// LogLevel is the level of the standalone process's logs. When another
	// process embeds the worker it passes its own logger.
	LogLevel slog.Level `env:"LOG_LEVEL" envDefault:"info"`
}

// LoadConfig parses environ (as from env.ToMap(os.Environ())) into a
// Config and validates it. Durations use Go syntax (300ms, 2m); a bare
// integer means milliseconds, as everywhere in this project.
func LoadConfig(environ map[string]string) (Config, error) {
	var cfg Config
	if err := envconfig.Parse(environ, &cfg); err != nil {
		return Config{}, fmt.Errorf("notify config: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// Validate reports every invalid setting, each naming its variable.
func (c Config) Validate() error {
	var errs []error
	if c.DedupeWindow < time.Millisecond {
		errs = append(errs, fmt.Errorf("NOTIFY_DEDUPE_WINDOW must be at least 1ms, got %s", c.DedupeWindow))
	}
	if c.ReadTTL < time.Minute {
		errs = append(errs, fmt.Errorf("NOTIFY_READ_TTL must be at least 1m, got %s", c.ReadTTL))
	}
	return errors.Join(errs...)
}

// LogValue lets the config be logged at startup; durations as "2m0s", not
// nanoseconds.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("dedupe_window", c.DedupeWindow.String()),
		slog.String("read_ttl", c.ReadTTL.String()),
		slog.String("log_level", c.LogLevel.String()),
	)
}
