package domain_test

import (
	"regexp"
	"testing"

	"realtime/services/chat/internal/domain"
)

func TestDeriveID(t *testing.T) {
	contractID := regexp.MustCompile(`^[A-Za-z0-9_.:@-]{1,128}$`)
	a := domain.DeriveID(domain.KindChatMessage, "01J9Z3W6Q8X1V2B3C4D5E6F7G8")
	tests := []struct {
		name string
		id   string
		same bool
	}{
		{"same kind and event", domain.DeriveID(domain.KindChatMessage, "01J9Z3W6Q8X1V2B3C4D5E6F7G8"), true},
		{"other event", domain.DeriveID(domain.KindChatMessage, "01J9Z3W6Q8X1V2B3C4D5E6F7G9"), false},
		{"other kind", domain.DeriveID(domain.KindFanoutChatMessage, "01J9Z3W6Q8X1V2B3C4D5E6F7G8"), false},
		{"no ambiguity between kind and event", domain.DeriveID(domain.KindChatMessage+"0", "1J9Z3W6Q8X1V2B3C4D5E6F7G8"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if (tt.id == a) != tt.same {
				t.Errorf("DeriveID = %q vs %q, same = %v, want %v", tt.id, a, tt.id == a, tt.same)
			}
			if !contractID.MatchString(tt.id) {
				t.Errorf("%q is not a contract id", tt.id)
			}
		})
	}
}
