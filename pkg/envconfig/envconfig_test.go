package envconfig

import (
	"strings"
	"testing"
	"time"
)

type sample struct {
	Interval time.Duration `env:"INTERVAL" envDefault:"1s"`
	Count    int           `env:"COUNT" envDefault:"3"`
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    sample
		wantErr string
	}{
		{"defaults", map[string]string{}, sample{time.Second, 3}, ""},
		{"go duration", map[string]string{"INTERVAL": "250ms"}, sample{250 * time.Millisecond, 3}, ""},
		{"milliseconds", map[string]string{"INTERVAL": " 1500 "}, sample{1500 * time.Millisecond, 3}, ""},
		{"bad duration names the variable", map[string]string{"INTERVAL": "soon"}, sample{}, "INTERVAL: "},
		{"bad int names the variable", map[string]string{"COUNT": "x"}, sample{}, "COUNT: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got sample
			err := Parse(tt.env, &got)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %v", got, err)
			}
		})
	}
}
