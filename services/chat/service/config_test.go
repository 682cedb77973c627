package service_test

import (
	"strings"
	"testing"

	"realtime/services/chat/service"
)

func TestLoadConfig(t *testing.T) {
	tests := []struct {
		name    string
		environ map[string]string
		want    service.Config
		wantErr string
	}{
		{"defaults", map[string]string{}, service.Config{RatePerMin: 10, MaxLength: 500}, ""},
		{"set", map[string]string{"CHAT_RATE_PER_MIN": "30", "CHAT_MAX_LENGTH": "200"}, service.Config{RatePerMin: 30, MaxLength: 200}, ""},
		{"0 disables the rate limit", map[string]string{"CHAT_RATE_PER_MIN": "0"}, service.Config{RatePerMin: 0, MaxLength: 500}, ""},
		{"other services' settings ignored", map[string]string{"PORT": "1", "COUNT_INTERVAL": "1s"}, service.Config{RatePerMin: 10, MaxLength: 500}, ""},
		{"negative rate", map[string]string{"CHAT_RATE_PER_MIN": "-1"}, service.Config{}, "CHAT_RATE_PER_MIN must be 0"},
		{"not a number", map[string]string{"CHAT_RATE_PER_MIN": "ten"}, service.Config{}, `CHAT_RATE_PER_MIN must be a whole number, got "ten"`},
		{"longer than the contract", map[string]string{"CHAT_MAX_LENGTH": "501"}, service.Config{}, "CHAT_MAX_LENGTH must be between 1 and 500"},
		{"zero length", map[string]string{"CHAT_MAX_LENGTH": "0"}, service.Config{}, "CHAT_MAX_LENGTH must be between 1 and 500"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := service.LoadConfig(tt.environ)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("config = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestNewRefusesInvalidConfig(t *testing.T) {
	if _, err := service.New(service.Config{}, nil, nil); err == nil {
		t.Fatal("New accepted a zero Config")
	}
}
