package config

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestLoadDefaults(t *testing.T) {
	cfg, err := Load(map[string]string{})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	host, _ := os.Hostname()
	want := Config{
		Port:              4100,
		Host:              "0.0.0.0",
		AuthRequired:      false,
		PingInterval:      25 * time.Second,
		PingTimeout:       20 * time.Second,
		MaxPayload:        1_000_000,
		ConnectTimeout:    45 * time.Second,
		ShutdownTimeout:   10 * time.Second,
		EdgeTTL:           15 * time.Second,
		HeartbeatInterval: 5 * time.Second,
		OutboxShards:      256,
		OutboxCapacity:    100_000,
		LogLevel:          slog.LevelInfo,
	}
	prefix := fmt.Sprintf("%s-%d-", host, os.Getpid())
	if !strings.HasPrefix(cfg.InstanceID, prefix) || len(cfg.InstanceID) != len(prefix)+6 {
		t.Errorf("InstanceID %q, want %s<6 hex>", cfg.InstanceID, prefix)
	}
	if other, _ := Load(map[string]string{}); other.InstanceID == cfg.InstanceID {
		t.Errorf("two loads share the instance id %q", cfg.InstanceID)
	}
	want.InstanceID = cfg.InstanceID
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", cfg, want)
	}
	if cfg.Addr() != "0.0.0.0:4100" {
		t.Errorf("Addr = %q", cfg.Addr())
	}
}

func TestLoad(t *testing.T) {
	tests := []struct {
		name  string
		env   map[string]string
		check func(t *testing.T, c Config)
	}{
		{
			name: "everything set",
			env: map[string]string{
				"PORT": "8080", "HOST": "127.0.0.1",
				"JWT_SECRET": "s3cret", "JWT_PUBLIC_KEY": "/keys/pub.pem", "JWT_ISSUER": "auth", "JWT_AUDIENCE": "realtime",
				"AUTH_REQUIRED": "true", "PING_INTERVAL": "300ms", "PING_TIMEOUT": "200ms", "MAX_PAYLOAD": "2048",
				"CONNECT_TIMEOUT": "1s", "CORS_ORIGINS": "https://a.example,http://localhost:3000",
				"SHUTDOWN_TIMEOUT": "3s", "LOG_LEVEL": "debug", "INSTANCE_ID": "edge-7",
				"OUTBOX_SHARDS": "8", "OUTBOX_CAPACITY": "500",
			},
			check: func(t *testing.T, c Config) {
				want := Config{
					Port: 8080, Host: "127.0.0.1",
					JWTSecret: "s3cret", JWTPublicKey: "/keys/pub.pem", JWTIssuer: "auth", JWTAudience: "realtime",
					AuthRequired: true, PingInterval: 300 * time.Millisecond, PingTimeout: 200 * time.Millisecond,
					MaxPayload: 2048, ConnectTimeout: time.Second,
					CORSOrigins:     []string{"https://a.example", "http://localhost:3000"},
					ShutdownTimeout: 3 * time.Second, EdgeTTL: 15 * time.Second, HeartbeatInterval: 5 * time.Second, LogLevel: slog.LevelDebug, InstanceID: "edge-7",
					OutboxShards: 8, OutboxCapacity: 500,
				}
				if !reflect.DeepEqual(c, want) {
					t.Errorf("\n got %+v\nwant %+v", c, want)
				}
			},
		},
		{
			name: "bare integers are milliseconds, as in the Node service",
			env:  map[string]string{"PING_INTERVAL": "25000", "PING_TIMEOUT": "20000"},
			check: func(t *testing.T, c Config) {
				if c.PingInterval != 25*time.Second || c.PingTimeout != 20*time.Second {
					t.Errorf("got %s/%s", c.PingInterval, c.PingTimeout)
				}
			},
		},
		{
			name: "CORS list is trimmed, empty items and trailing slashes dropped",
			env:  map[string]string{"CORS_ORIGINS": " https://a.example/ , ,http://localhost:3000"},
			check: func(t *testing.T, c Config) {
				want := []string{"https://a.example", "http://localhost:3000"}
				if !reflect.DeepEqual(c.CORSOrigins, want) {
					t.Errorf("CORSOrigins = %q, want %q", c.CORSOrigins, want)
				}
			},
		},
		{
			name: "empty CORS_ORIGINS allows any",
			env:  map[string]string{"CORS_ORIGINS": ""},
			check: func(t *testing.T, c Config) {
				if len(c.CORSOrigins) != 0 {
					t.Errorf("CORSOrigins = %q, want none", c.CORSOrigins)
				}
			},
		},
		{
			name: "wildcard origin",
			env:  map[string]string{"CORS_ORIGINS": "*"},
			check: func(t *testing.T, c Config) {
				if !reflect.DeepEqual(c.CORSOrigins, []string{"*"}) {
					t.Errorf("CORSOrigins = %q", c.CORSOrigins)
				}
			},
		},
		{
			name: "empty variables take defaults",
			env:  map[string]string{"PORT": "", "LOG_LEVEL": ""},
			check: func(t *testing.T, c Config) {
				if c.Port != 4100 || c.LogLevel != slog.LevelInfo {
					t.Errorf("got port %d level %s", c.Port, c.LogLevel)
				}
			},
		},
		{
			name: "log level is case-insensitive",
			env:  map[string]string{"LOG_LEVEL": "WARN"},
			check: func(t *testing.T, c Config) {
				if c.LogLevel != slog.LevelWarn {
					t.Errorf("LogLevel = %s", c.LogLevel)
				}
			},
		},
		{
			name: "public key alone satisfies AUTH_REQUIRED",
			env:  map[string]string{"AUTH_REQUIRED": "true", "JWT_PUBLIC_KEY": "-----BEGIN PUBLIC KEY-----"},
			check: func(t *testing.T, c Config) {
				if !c.AuthRequired {
					t.Error("AuthRequired not set")
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Load(tt.env)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			tt.check(t, cfg)
		})
	}
}

func TestLoadRejects(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want []string // substrings the error must contain
	}{
		{name: "port zero", env: map[string]string{"PORT": "0"}, want: []string{"PORT must be between 1 and 65535, got 0"}},
		{name: "port too big", env: map[string]string{"PORT": "70000"}, want: []string{"PORT must be between 1 and 65535"}},
		{name: "port not a number", env: map[string]string{"PORT": "http"}, want: []string{"config:", "PORT"}},
		{name: "blank host", env: map[string]string{"HOST": "  "}, want: []string{"HOST must not be empty"}},
		{name: "zero ping interval", env: map[string]string{"PING_INTERVAL": "0s"}, want: []string{"PING_INTERVAL must be a positive duration"}},
		{name: "negative ping timeout", env: map[string]string{"PING_TIMEOUT": "-1s"}, want: []string{"PING_TIMEOUT must be a positive duration"}},
		{name: "zero connect timeout", env: map[string]string{"CONNECT_TIMEOUT": "0"}, want: []string{"CONNECT_TIMEOUT must be a positive duration"}},
		{name: "zero shutdown timeout", env: map[string]string{"SHUTDOWN_TIMEOUT": "0s"}, want: []string{"SHUTDOWN_TIMEOUT must be a positive duration"}},
		{name: "duration garbage", env: map[string]string{"PING_INTERVAL": "soon"}, want: []string{`"soon" is not a duration`}},
		{name: "zero max payload", env: map[string]string{"MAX_PAYLOAD": "0"}, want: []string{"MAX_PAYLOAD must be a positive number of bytes"}},
		{name: "bad bool", env: map[string]string{"AUTH_REQUIRED": "yes please"}, want: []string{"AUTH_REQUIRED"}},
		{name: "unknown log level", env: map[string]string{"LOG_LEVEL": "verbose"}, want: []string{"LOG_LEVEL", "verbose"}},
		{name: "auth required without keys", env: map[string]string{"AUTH_REQUIRED": "true"}, want: []string{"AUTH_REQUIRED=true needs JWT_SECRET or JWT_PUBLIC_KEY"}},
		{name: "issuer without keys", env: map[string]string{"JWT_ISSUER": "auth"}, want: []string{"JWT_ISSUER/JWT_AUDIENCE are set"}},
		{name: "origin with path", env: map[string]string{"CORS_ORIGINS": "https://a.example/app"}, want: []string{`CORS_ORIGINS: "https://a.example/app" is not an origin`}},
		{name: "origin without scheme", env: map[string]string{"CORS_ORIGINS": "a.example"}, want: []string{`"a.example" is not an origin`}},
		{name: "zero outbox shards", env: map[string]string{"OUTBOX_SHARDS": "0"}, want: []string{"OUTBOX_SHARDS must be between 1 and 1024, got 0"}},
		{name: "too many outbox shards", env: map[string]string{"OUTBOX_SHARDS": "5000"}, want: []string{"OUTBOX_SHARDS must be between 1 and 1024, got 5000"}},
		{name: "zero outbox capacity", env: map[string]string{"OUTBOX_CAPACITY": "0"}, want: []string{"OUTBOX_CAPACITY must be a positive number of events, got 0"}},
		{name: "outbox capacity not a number", env: map[string]string{"OUTBOX_CAPACITY": "lots"}, want: []string{"OUTBOX_CAPACITY"}},
		{name: "blank instance id", env: map[string]string{"INSTANCE_ID": "   "}, want: []string{"INSTANCE_ID must not be blank"}},
		{name: "instance id with a space", env: map[string]string{"INSTANCE_ID": "edge 1"}, want: []string{`INSTANCE_ID must be 1..128 characters of A-Z a-z 0-9 _ . : @ -, got "edge 1"`}},
		{name: "instance id with a slash", env: map[string]string{"INSTANCE_ID": "edge/1"}, want: []string{"INSTANCE_ID must be 1..128"}},
		{name: "instance id too long", env: map[string]string{"INSTANCE_ID": strings.Repeat("e", 129)}, want: []string{"INSTANCE_ID must be 1..128"}},
		{
			name: "all problems reported at once",
			env:  map[string]string{"PORT": "0", "MAX_PAYLOAD": "-5", "AUTH_REQUIRED": "true"},
			want: []string{"PORT must be", "MAX_PAYLOAD must be", "AUTH_REQUIRED=true needs"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.env)
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestLogValueHidesSecret(t *testing.T) {
	cfg, err := Load(map[string]string{"JWT_SECRET": "do-not-log-me"})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "config", cfg)
	if strings.Contains(buf.String(), "do-not-log-me") {
		t.Fatalf("secret leaked into log: %s", buf.String())
	}
	if !strings.Contains(buf.String(), `"jwt_secret_set":true`) {
		t.Errorf("log lacks jwt_secret_set: %s", buf.String())
	}
}
