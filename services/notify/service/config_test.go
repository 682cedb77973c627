package service_test

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"realtime/services/notify/service"
)

func TestLoadConfig(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		window  time.Duration
		level   slog.Level
		readTTL time.Duration // 0: the default, 30 days
		wantErr string
	}{
		{name: "defaults", env: nil, window: 2 * time.Minute, level: slog.LevelInfo},
		{name: "go duration", env: map[string]string{"NOTIFY_DEDUPE_WINDOW": "90s"}, window: 90 * time.Second},
		{name: "bare milliseconds", env: map[string]string{"NOTIFY_DEDUPE_WINDOW": "1500"}, window: 1500 * time.Millisecond},
		{name: "log level", env: map[string]string{"LOG_LEVEL": "debug"}, window: 2 * time.Minute, level: slog.LevelDebug},
		{name: "not a duration", env: map[string]string{"NOTIFY_DEDUPE_WINDOW": "soon"}, wantErr: "NOTIFY_DEDUPE_WINDOW"},
		{name: "zero", env: map[string]string{"NOTIFY_DEDUPE_WINDOW": "0"}, wantErr: "NOTIFY_DEDUPE_WINDOW"},
		{name: "negative", env: map[string]string{"NOTIFY_DEDUPE_WINDOW": "-1s"}, wantErr: "NOTIFY_DEDUPE_WINDOW"},
		{name: "bad level", env: map[string]string{"LOG_LEVEL": "loud"}, wantErr: "LOG_LEVEL"},
		{name: "read ttl", env: map[string]string{"NOTIFY_READ_TTL": "48h"}, window: 2 * time.Minute, readTTL: 48 * time.Hour},
		{name: "read ttl too short", env: map[string]string{"NOTIFY_READ_TTL": "30s"}, wantErr: "NOTIFY_READ_TTL"},
		{name: "read ttl not a duration", env: map[string]string{"NOTIFY_READ_TTL": "forever"}, wantErr: "NOTIFY_READ_TTL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := service.LoadConfig(tt.env)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.readTTL == 0 {
				tt.readTTL = 30 * 24 * time.Hour
			}
			if cfg.DedupeWindow != tt.window || cfg.LogLevel != tt.level || cfg.ReadTTL != tt.readTTL {
				t.Errorf("cfg = %+v", cfg)
			}
		})
	}
}
