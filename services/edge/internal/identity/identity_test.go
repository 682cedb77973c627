package identity

import (
	"errors"
	"regexp"
	"testing"

	"realtime/pkg/auth"
)

// fakeVerifier accepts exactly one token.
type fakeVerifier struct{}

func (fakeVerifier) Verify(token string) (auth.Claims, error) {
	if token == "good" {
		return auth.Claims{UserID: "user-1"}, nil
	}
	return auth.Claims{}, auth.ErrExpired
}

func TestAuthenticate(t *testing.T) {
	anon := func() string { return "anon-fixed" }
	tests := []struct {
		name     string
		verifier TokenVerifier
		required bool
		token    string
		want     Identity
		wantErr  error
	}{
		{name: "valid token", verifier: fakeVerifier{}, token: "good", want: Identity{UserID: "user-1"}},
		{name: "bearer prefix tolerated", verifier: fakeVerifier{}, token: "Bearer good", want: Identity{UserID: "user-1"}},
		{name: "surrounding space tolerated", verifier: fakeVerifier{}, token: "  good\n", want: Identity{UserID: "user-1"}},
		{name: "invalid token refused with verifier's error", verifier: fakeVerifier{}, token: "bad", wantErr: auth.ErrExpired},
		{name: "invalid token refused even when auth optional", verifier: fakeVerifier{}, required: false, token: "bad", wantErr: auth.ErrExpired},
		{name: "no token, optional: anonymous", verifier: fakeVerifier{}, want: Identity{UserID: "anon-fixed", Anonymous: true}},
		{name: "blank token, optional: anonymous", verifier: fakeVerifier{}, token: "   ", want: Identity{UserID: "anon-fixed", Anonymous: true}},
		{name: "no token, required: refused", verifier: fakeVerifier{}, required: true, wantErr: ErrAuthRequired},
		{name: "no verifier: token ignored, anonymous", verifier: nil, token: "good", want: Identity{UserID: "anon-fixed", Anonymous: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := NewAuthenticator(tt.verifier, tt.required).WithAnonIDs(anon)
			got, err := a.Authenticate(tt.token)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestRandomAnonID(t *testing.T) {
	re := regexp.MustCompile(`^anon-[0-9a-f]{16}$`)
	seen := map[string]bool{}
	for range 100 {
		id := randomAnonID()
		if !re.MatchString(id) {
			t.Fatalf("id %q has the wrong shape", id)
		}
		if seen[id] {
			t.Fatalf("id %q repeated", id)
		}
		seen[id] = true
	}
}
