package service_test

import (
	"strings"
	"testing"
	"time"

	"realtime/services/presence/service"
)

func TestLoadConfig(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    service.Config
		wantErr string
	}{
		{
			name: "defaults",
			want: service.Config{CountInterval: time.Second, EdgeTTL: 15 * time.Second, SweepInterval: time.Second, ExpiryGuard: 7500 * time.Millisecond},
		},
		{
			name: "set, bare integers are milliseconds",
			env:  map[string]string{"COUNT_INTERVAL": "250ms", "EDGE_TTL": "30000", "PRESENCE_SWEEP_INTERVAL": "2s"},
			want: service.Config{CountInterval: 250 * time.Millisecond, EdgeTTL: 30 * time.Second, SweepInterval: 2 * time.Second, ExpiryGuard: 15 * time.Second},
		},
		{
			name: "expiry guard off",
			env:  map[string]string{"PRESENCE_EXPIRY_GUARD": "0"},
			want: service.Config{CountInterval: time.Second, EdgeTTL: 15 * time.Second, SweepInterval: time.Second},
		},
		{name: "not a duration", env: map[string]string{"COUNT_INTERVAL": "soon"}, wantErr: "COUNT_INTERVAL"},
		{name: "zero", env: map[string]string{"EDGE_TTL": "0"}, wantErr: "EDGE_TTL must be a positive duration"},
		{name: "negative", env: map[string]string{"PRESENCE_SWEEP_INTERVAL": "-1s"}, wantErr: "PRESENCE_SWEEP_INTERVAL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := service.LoadConfig(tt.env)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}
