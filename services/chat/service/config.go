package service

import (
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strconv"
	"strings"

	"github.com/caarlos0/env/v11"

	"realtime/services/chat/internal/domain"
)

// Config is every setting of the chat worker.
type Config struct {
	// RatePerMin is how many chat messages one user may post in any 60 s
	// (a sliding window), over all of the user's connections and all chat
	// instances. 0 disables the limit. The seed's value is 10.
	RatePerMin int `env:"CHAT_RATE_PER_MIN" envDefault:"10"`
	// MaxLength is the longest message, in characters, after cleaning. The
	// contract caps it at 500; a smaller value is allowed.
	MaxLength int `env:"CHAT_MAX_LENGTH" envDefault:"500"`
}

// LoadConfig reads the settings from environ (as from env.ToMap(os.Environ());
// nil means the process environment) and validates them.
func LoadConfig(environ map[string]string) (Config, error) {
	var cfg Config
	if err := env.ParseWithOptions(&cfg, env.Options{Environment: environ}); err != nil {
		return Config{}, fmt.Errorf("chat config: %w", nameVariables(err))
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// Validate reports every invalid setting, each naming its variable.
func (c Config) Validate() error {
	var errs []error
	if c.RatePerMin < 0 {
		errs = append(errs, fmt.Errorf("CHAT_RATE_PER_MIN must be 0 (no limit) or more, got %d", c.RatePerMin))
	}
	if c.MaxLength < 1 || c.MaxLength > domain.MaxMessageLength {
		errs = append(errs, fmt.Errorf("CHAT_MAX_LENGTH must be between 1 and %d, got %d", domain.MaxMessageLength, c.MaxLength))
	}
	return errors.Join(errs...)
}

// nameVariables rewrites env's parse errors, which name the Go field, to
// name the environment variable that the operator has to fix.
func nameVariables(err error) error {
	agg, ok := errors.AsType[env.AggregateError](err)
	if !ok {
		return err
	}
	errs := make([]error, 0, len(agg.Errors))
	for _, e := range agg.Errors {
		if pe, ok := errors.AsType[env.ParseError](e); ok {
			if f, ok := reflect.TypeFor[Config]().FieldByName(pe.Name); ok {
				key, _, _ := strings.Cut(f.Tag.Get("env"), ",")
				e = fmt.Errorf("%s: %w", key, pe.Err)
				if ne, ok := errors.AsType[*strconv.NumError](pe.Err); ok {
					e = fmt.Errorf("%s must be a whole number, got %q", key, ne.Num)
				}
			}
		}
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}

// LogValue lets the config be logged as a group.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(slog.Int("rate_per_min", c.RatePerMin), slog.Int("max_length", c.MaxLength))
}
