package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"realtime/pkg/envconfig"
)

// Transports selectable with BUS.
const (
	TransportMemory      = "memory"      // embedded: everything in one process
	TransportDistributed = "distributed" // Kafka for domain events, Redis Streams for fan-out
)

// Config chooses and configures the bus of a process.
type Config struct {
	Transport string `env:"BUS" envDefault:"memory"`
	// KafkaBrokers is a comma-separated list of host:port.
	KafkaBrokers []string `env:"KAFKA_BROKERS" envSeparator:"," envDefault:"127.0.0.1:9092"`
	// KafkaPartitions is the partition count of the topics this service
	// creates (partition keys keep per-video and per-user order). A
	// consumer handles one event of a partition at a time, so this bounds
	// how many events of a topic a worker group has in flight: 16 lets
	// presence absorb a connection burst (one join per connection, keyed
	// by video) several times faster than 4. Topics that exist keep their
	// count.
	KafkaPartitions int32 `env:"KAFKA_PARTITIONS" envDefault:"16"`
	// RedisAddr is the Redis that carries the fan-out streams (and state).
	RedisAddr string `env:"REDIS_ADDR" envDefault:"127.0.0.1:6379"`
	// FanoutMaxLen bounds each fan-out stream, the shared one and every
	// edge's own (approximate MAXLEN).
	FanoutMaxLen int64 `env:"FANOUT_MAXLEN" envDefault:"100000"`
	// EdgeStreamTTL is how long an edge's own fan-out stream (see
	// EdgeStreamPrefix) outlives the last publish to it. Readers never
	// replay a stream, so this only has to exceed how far a live edge may
	// lag behind; it is what removes the streams of edges that are gone.
	EdgeStreamTTL time.Duration `env:"FANOUT_EDGE_STREAM_TTL" envDefault:"10m"`
	// GroupPrefix prefixes Kafka consumer groups, so two deployments can
	// share a cluster.
	GroupPrefix string `env:"CONSUMER_GROUP_PREFIX" envDefault:"realtime"`
}

// minEdgeStreamTTL keeps a short FANOUT_EDGE_STREAM_TTL from expiring a
// live edge's stream under entries it has not read yet.
const minEdgeStreamTTL = time.Minute

// LoadConfig reads the bus settings from environ (nil: the process
// environment).
func LoadConfig(environ map[string]string) (Config, error) {
	var c Config
	if err := envconfig.Parse(environ, &c); err != nil {
		return Config{}, fmt.Errorf("bus config: %w", err)
	}
	return c, c.Validate()
}

// Validate reports every bad setting, naming its variable.
func (c Config) Validate() error {
	var errs []error
	switch c.Transport {
	case TransportMemory:
	case TransportDistributed:
		if len(c.KafkaBrokers) == 0 || strings.TrimSpace(c.KafkaBrokers[0]) == "" {
			errs = append(errs, errors.New("KAFKA_BROKERS must list at least one host:port"))
		}
		if c.KafkaPartitions < 1 {
			errs = append(errs, fmt.Errorf("KAFKA_PARTITIONS must be at least 1, got %d", c.KafkaPartitions))
		}
		if strings.TrimSpace(c.RedisAddr) == "" {
			errs = append(errs, errors.New("REDIS_ADDR must not be empty"))
		}
		if c.FanoutMaxLen < 1000 {
			errs = append(errs, fmt.Errorf("FANOUT_MAXLEN must be at least 1000, got %d", c.FanoutMaxLen))
		}
		if c.EdgeStreamTTL < minEdgeStreamTTL {
			errs = append(errs, fmt.Errorf("FANOUT_EDGE_STREAM_TTL must be at least %s, got %s", minEdgeStreamTTL, c.EdgeStreamTTL))
		}
	default:
		errs = append(errs, fmt.Errorf("BUS must be %q or %q, got %q", TransportMemory, TransportDistributed, c.Transport))
	}
	return errors.Join(errs...)
}

// Open builds the bus that cfg names. In distributed mode it connects to
// Kafka and Redis and creates the topics; ctx bounds that setup.
func Open(ctx context.Context, cfg Config, logger *slog.Logger) (*Bus, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Transport == TransportMemory {
		return NewMemory(logger), nil
	}
	return openDistributed(ctx, cfg, logger)
}
