package service

import (
	"errors"
	"fmt"
	"time"

	"realtime/pkg/envconfig"
)

// Config is every setting of the presence service.
type Config struct {
	// CountInterval is the shortest time between two broadcasts of one
	// room's count (video:viewers, chat:user-count). The first change after
	// a quiet interval goes out at once; later ones are coalesced and the
	// final value is always sent.
	CountInterval time.Duration `env:"COUNT_INTERVAL" envDefault:"1s"`
	// EdgeTTL is the lease of an edge seen before its first heartbeat, or
	// whose heartbeat names no ttlMs. An edge silent for longer than its
	// lease is considered dead: its sockets leave every room.
	EdgeTTL time.Duration `env:"EDGE_TTL" envDefault:"15s"`
	// SweepInterval is how often expired edge leases are looked for; a dead
	// edge's sockets are dropped at most this long after its lease ends.
	SweepInterval time.Duration `env:"PRESENCE_SWEEP_INTERVAL" envDefault:"1s"`
	// ExpiryGuard keeps counts through a bus outage: leases are acted on
	// only while heartbeats flow (see app.Config.ExpiryGuard). Unset, it is
	// half of EdgeTTL (edges heartbeat at least that often); 0 turns it off.
	ExpiryGuard time.Duration `env:"PRESENCE_EXPIRY_GUARD" envDefault:"-1"`
}

// LoadConfig parses environ (as from env.ToMap(os.Environ())) and validates
// the result. Durations use Go syntax (1s, 250ms); a bare integer means
// milliseconds, as everywhere in this project.
func LoadConfig(environ map[string]string) (Config, error) {
	var cfg Config
	if err := envconfig.Parse(environ, &cfg); err != nil {
		return Config{}, fmt.Errorf("presence config: %w", err)
	}
	if cfg.ExpiryGuard < 0 {
		cfg.ExpiryGuard = cfg.EdgeTTL / 2
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// Validate reports every invalid setting, each naming its variable.
func (c Config) Validate() error {
	var errs []error
	for _, d := range []struct {
		name  string
		value time.Duration
	}{
		{"COUNT_INTERVAL", c.CountInterval},
		{"EDGE_TTL", c.EdgeTTL},
		{"PRESENCE_SWEEP_INTERVAL", c.SweepInterval},
	} {
		if d.value <= 0 {
			errs = append(errs, fmt.Errorf("presence config: %s must be a positive duration such as 1s, got %s", d.name, d.value))
		}
	}
	return errors.Join(errs...)
}
