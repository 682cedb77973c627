// Package config reads the edge service's settings from the environment and
// refuses bad values at startup, with messages that name the variable.
package config

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"realtime/pkg/envconfig"
)

// Config is every setting of one edge process.
type Config struct {
	Port int    `env:"PORT" envDefault:"4100"`
	Host string `env:"HOST" envDefault:"0.0.0.0"`

	// JWTSecret enables HS256 tokens; JWTPublicKey (PEM text or a file path)
	// enables RS256. With neither, every connection is anonymous.
	JWTSecret    string `env:"JWT_SECRET"`
	JWTPublicKey string `env:"JWT_PUBLIC_KEY"`
	JWTIssuer    string `env:"JWT_ISSUER"`
	JWTAudience  string `env:"JWT_AUDIENCE"`
	// AuthRequired refuses connections without a token. The seed allows
	// public (anonymous) access, hence the default.
	AuthRequired bool `env:"AUTH_REQUIRED" envDefault:"false"`

	PingInterval   time.Duration `env:"PING_INTERVAL" envDefault:"25s"`
	PingTimeout    time.Duration `env:"PING_TIMEOUT" envDefault:"20s"`
	MaxPayload     int           `env:"MAX_PAYLOAD" envDefault:"1000000"`
	ConnectTimeout time.Duration `env:"CONNECT_TIMEOUT" envDefault:"45s"`
	// CORSOrigins lists the browser origins allowed to connect; empty
	// allows any.
	CORSOrigins     []string      `env:"CORS_ORIGINS" envSeparator:","`
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"10s"`

	// AdminToken enables POST /internal/events (platform events) for
	// callers presenting it as a Bearer token; empty disables the endpoint.
	AdminToken string `env:"ADMIN_TOKEN"`
	// PprofAddr serves Go's profiler (/debug/pprof/) on its own listener,
	// such as 127.0.0.1:6060; empty turns it off. Never expose it publicly.
	PprofAddr string `env:"PPROF_ADDR"`
	// EdgeTTL is the lease presence gives this edge: if no heartbeat comes
	// within it, the edge's sockets are dropped from every count.
	EdgeTTL time.Duration `env:"EDGE_TTL" envDefault:"15s"`
	// HeartbeatInterval is how often the lease is renewed (well below EdgeTTL).
	HeartbeatInterval time.Duration `env:"HEARTBEAT_INTERVAL" envDefault:"5s"`

	// OutboxShards is how many queues publish membership events (sessions
	// opened and closed, rooms joined and left) at the same time; a
	// socket's events stay in order in one of them. Each has one publish
	// in flight, and the Kafka producer batches concurrent publishes, so
	// more shards drain a burst of connects sooner (an idle shard is one
	// parked goroutine).
	OutboxShards int `env:"OUTBOX_SHARDS" envDefault:"256"`
	// OutboxCapacity bounds the membership events waiting to be
	// published; when it is reached, joins are refused until the bus
	// catches up.
	OutboxCapacity int `env:"OUTBOX_CAPACITY" envDefault:"100000"`

	LogLevel slog.Level `env:"LOG_LEVEL" envDefault:"info"`
	// InstanceID names this process in logs and, later, in edge leases.
	// The default is "<hostname>-<pid>" so that several edges on one
	// machine still get distinct names.
	InstanceID string `env:"INSTANCE_ID"`
}

// maxOutboxShards bounds OUTBOX_SHARDS: each shard is a goroutine with
// one publish in flight.
const maxOutboxShards = 1024

// Load parses environ (as from env.ToMap(os.Environ())) into a Config,
// fills derived defaults and validates the result. All problems are reported
// together so an operator fixes them in one go.
func Load(environ map[string]string) (Config, error) {
	var cfg Config
	if err := envconfig.Parse(environ, &cfg); err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	if cfg.InstanceID == "" {
		cfg.InstanceID = defaultInstanceID()
	}
	cfg.CORSOrigins = normalizeOrigins(cfg.CORSOrigins)
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// Validate reports every invalid setting, each naming its variable.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if c.Port < 1 || c.Port > 65535 {
		bad("PORT must be between 1 and 65535, got %d", c.Port)
	}
	if strings.TrimSpace(c.Host) == "" {
		bad("HOST must not be empty (use 0.0.0.0 for all interfaces)")
	}
	for _, d := range []struct {
		name  string
		value time.Duration
	}{
		{"PING_INTERVAL", c.PingInterval},
		{"PING_TIMEOUT", c.PingTimeout},
		{"CONNECT_TIMEOUT", c.ConnectTimeout},
		{"SHUTDOWN_TIMEOUT", c.ShutdownTimeout},
		{"EDGE_TTL", c.EdgeTTL},
		{"HEARTBEAT_INTERVAL", c.HeartbeatInterval},
	} {
		if d.value <= 0 {
			bad("%s must be a positive duration such as 25s, got %s", d.name, d.value)
		}
	}
	if c.HeartbeatInterval > 0 && c.EdgeTTL > 0 && c.HeartbeatInterval*2 > c.EdgeTTL {
		bad("HEARTBEAT_INTERVAL (%s) must be at most half of EDGE_TTL (%s), or one late heartbeat drops every count", c.HeartbeatInterval, c.EdgeTTL)
	}
	if c.OutboxShards < 1 || c.OutboxShards > maxOutboxShards {
		bad("OUTBOX_SHARDS must be between 1 and %d, got %d", maxOutboxShards, c.OutboxShards)
	}
	if c.OutboxCapacity < 1 {
		bad("OUTBOX_CAPACITY must be a positive number of events, got %d", c.OutboxCapacity)
	}
	if c.MaxPayload <= 0 {
		bad("MAX_PAYLOAD must be a positive number of bytes, got %d", c.MaxPayload)
	}
	hasKey := c.JWTSecret != "" || strings.TrimSpace(c.JWTPublicKey) != ""
	if c.AuthRequired && !hasKey {
		bad("AUTH_REQUIRED=true needs JWT_SECRET or JWT_PUBLIC_KEY")
	}
	if !hasKey && (c.JWTIssuer != "" || c.JWTAudience != "") {
		bad("JWT_ISSUER/JWT_AUDIENCE are set but neither JWT_SECRET nor JWT_PUBLIC_KEY is")
	}
	for _, o := range c.CORSOrigins {
		if err := checkOrigin(o); err != nil {
			bad("CORS_ORIGINS: %v", err)
		}
	}
	if strings.TrimSpace(c.InstanceID) == "" {
		bad("INSTANCE_ID must not be blank")
	} else if !validInstanceID(c.InstanceID) {
		// It is the edgeId of every event this edge publishes (an id in
		// the contract) and names its own fan-out stream.
		bad("INSTANCE_ID must be 1..128 characters of A-Z a-z 0-9 _ . : @ -, got %q", c.InstanceID)
	}
	return errors.Join(errs...)
}

// Addr is the address to listen on.
func (c Config) Addr() string { return net.JoinHostPort(c.Host, strconv.Itoa(c.Port)) }

// LogValue lets the config be logged at startup without leaking the secret.
// Durations are strings ("25s"): the JSON handler would print nanoseconds.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("addr", c.Addr()),
		slog.Bool("jwt_secret_set", c.JWTSecret != ""),
		slog.Bool("admin_token_set", c.AdminToken != ""),
		slog.String("edge_ttl", c.EdgeTTL.String()),
		slog.Bool("jwt_public_key_set", strings.TrimSpace(c.JWTPublicKey) != ""),
		slog.String("jwt_issuer", c.JWTIssuer),
		slog.String("jwt_audience", c.JWTAudience),
		slog.Bool("auth_required", c.AuthRequired),
		slog.String("ping_interval", c.PingInterval.String()),
		slog.String("ping_timeout", c.PingTimeout.String()),
		slog.Int("max_payload", c.MaxPayload),
		slog.String("connect_timeout", c.ConnectTimeout.String()),
		slog.Any("cors_origins", c.CORSOrigins),
		slog.String("shutdown_timeout", c.ShutdownTimeout.String()),
		slog.Int("outbox_shards", c.OutboxShards),
		slog.Int("outbox_capacity", c.OutboxCapacity),
		slog.String("log_level", c.LogLevel.String()),
		slog.String("instance_id", c.InstanceID),
	)
}

// normalizeOrigins trims what people type around list items, and the
// trailing slash that browsers never send in an Origin header.
func normalizeOrigins(in []string) []string {
	var out []string
	for _, o := range in {
		o = strings.TrimSuffix(strings.TrimSpace(o), "/")
		if o != "" {
			out = append(out, o)
		}
	}
	return out
}

// checkOrigin accepts "*" or an origin as browsers send it:
// scheme://host[:port], nothing after.
func checkOrigin(o string) error {
	if o == "*" {
		return nil
	}
	u, err := url.Parse(o)
	if err != nil || u.Scheme == "" || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("%q is not an origin like https://example.com or http://localhost:3000", o)
	}
	return nil
}

// validInstanceID reports whether id is an id of the contract
// (contracts/schemas/defs/common.json): 1..128 of [A-Za-z0-9_.:@-].
func validInstanceID(id string) bool {
	if len(id) > 128 {
		return false
	}
	for _, r := range id {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune("_.:@-", r):
		default:
			return false
		}
	}
	return id != ""
}

func defaultInstanceID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "edge"
	}
	// Keep the default a valid id whatever the host is called.
	host = strings.Map(func(r rune) rune {
		if validInstanceID(string(r)) {
			return r
		}
		return '-'
	}, host)
	if len(host) > 100 {
		host = host[:100]
	}
	// The random suffix matters in containers, where every restart is pid 1
	// on the same hostname: a restarted edge must not inherit the lease
	// (and so the counted sockets) of the one that died.
	var b [3]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}
