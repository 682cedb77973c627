// Package identity decides who a connecting client is: a user proven by a
// token, or an anonymous visitor where the configuration allows one.
package identity

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"

	"realtime/pkg/auth"
)

// Identity is stored on each socket once its CONNECT is accepted.
type Identity struct {
	UserID    string
	Anonymous bool
}

// ErrAuthRequired refuses a client that brought no token when tokens are
// mandatory. The message is shown to the client as is.
var ErrAuthRequired = errors.New("authentication required")

// TokenVerifier is what the authenticator needs of pkg/auth; tests may fake it.
type TokenVerifier interface {
	Verify(token string) (auth.Claims, error)
}

// Authenticator turns the token a client presents (or its absence) into an
// Identity. It is safe for concurrent use.
type Authenticator struct {
	verifier TokenVerifier // nil: no key configured, tokens cannot be checked
	required bool
	anonID   func() string
}

// NewAuthenticator builds an Authenticator. A nil verifier means no key is
// configured: every client is then anonymous, whatever it presents, because
// a token that cannot be checked proves nothing (config refuses required
// auth without a key, so required is false in that case).
func NewAuthenticator(v TokenVerifier, required bool) *Authenticator {
	return &Authenticator{verifier: v, required: required, anonID: randomAnonID}
}

// WithAnonIDs replaces the anonymous id generator; for tests.
func (a *Authenticator) WithAnonIDs(gen func() string) *Authenticator {
	a.anonID = gen
	return a
}

// Authenticate returns the identity for token ("" when the client sent
// none). Errors are safe to show to the client.
func (a *Authenticator) Authenticate(token string) (Identity, error) {
	token = stripBearer(strings.TrimSpace(token))
	if token == "" || a.verifier == nil {
		if a.required {
			return Identity{}, ErrAuthRequired
		}
		return Identity{UserID: a.anonID(), Anonymous: true}, nil
	}
	claims, err := a.verifier.Verify(token)
	if err != nil {
		return Identity{}, err
	}
	return Identity{UserID: claims.UserID}, nil
}

// stripBearer tolerates clients that copy an Authorization header value
// into auth.token.
func stripBearer(token string) string {
	const prefix = "bearer "
	if len(token) > len(prefix) && strings.EqualFold(token[:len(prefix)], prefix) {
		return strings.TrimSpace(token[len(prefix):])
	}
	return token
}

// randomAnonID makes ids that cannot collide with real user ids in practice
// and cannot be guessed to impersonate another anonymous visitor.
func randomAnonID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return "anon-" + hex.EncodeToString(b[:])
}
