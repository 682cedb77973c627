package auth

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const secret = "test-secret-that-is-long-enough-for-hs256"

// RSA key generation is slow; every test shares the same pair of keys.
var keys = sync.OnceValue(func() (k struct{ main, other *rsa.PrivateKey }) {
	var err error
	if k.main, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		panic(err)
	}
	if k.other, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		panic(err)
	}
	return k
})

func publicPEM(t testing.TB, key *rsa.PublicKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func sign(t testing.TB, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// claims returns a valid claim set for user-1, with overrides applied; a nil
// override value deletes the claim.
func claims(overrides map[string]any) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{
		"sub": "user-1",
		"iat": now.Unix(),
		"exp": now.Add(time.Hour).Unix(),
	}
	for k, v := range overrides {
		if v == nil {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	return c
}

func TestVerify(t *testing.T) {
	k := keys()
	pubPEM := publicPEM(t, &k.main.PublicKey)
	hsOnly := Config{HMACSecret: secret}
	rsOnly := Config{RSAPublicKey: pubPEM}
	both := Config{HMACSecret: secret, RSAPublicKey: pubPEM}
	now := time.Now()

	tests := []struct {
		name    string
		cfg     Config
		token   string
		wantSub string
		wantErr error
	}{
		{name: "HS256 valid", cfg: hsOnly, token: sign(t, jwt.SigningMethodHS256, []byte(secret), claims(nil)), wantSub: "user-1"},
		{name: "RS256 valid", cfg: rsOnly, token: sign(t, jwt.SigningMethodRS256, k.main, claims(nil)), wantSub: "user-1"},
		{name: "HS256 valid with both configured", cfg: both, token: sign(t, jwt.SigningMethodHS256, []byte(secret), claims(nil)), wantSub: "user-1"},
		{name: "RS256 valid with both configured", cfg: both, token: sign(t, jwt.SigningMethodRS256, k.main, claims(nil)), wantSub: "user-1"},
		{name: "no exp is accepted", cfg: hsOnly, token: sign(t, jwt.SigningMethodHS256, []byte(secret), claims(map[string]any{"exp": nil})), wantSub: "user-1"},
		{name: "expired within leeway", cfg: hsOnly, token: sign(t, jwt.SigningMethodHS256, []byte(secret), claims(map[string]any{"exp": now.Add(-5 * time.Second).Unix()})), wantSub: "user-1"},

		{name: "HS256 wrong secret", cfg: hsOnly, token: sign(t, jwt.SigningMethodHS256, []byte("another-secret"), claims(nil)), wantErr: ErrSignature},
		{name: "RS256 signed by another key", cfg: rsOnly, token: sign(t, jwt.SigningMethodRS256, k.other, claims(nil)), wantErr: ErrSignature},
		{name: "payload tampered", cfg: hsOnly, token: tamper(t, sign(t, jwt.SigningMethodHS256, []byte(secret), claims(nil))), wantErr: ErrSignature},
		{name: "expired", cfg: hsOnly, token: sign(t, jwt.SigningMethodHS256, []byte(secret), claims(map[string]any{"exp": now.Add(-time.Hour).Unix()})), wantErr: ErrExpired},
		{name: "not yet valid", cfg: hsOnly, token: sign(t, jwt.SigningMethodHS256, []byte(secret), claims(map[string]any{"nbf": now.Add(time.Hour).Unix()})), wantErr: ErrNotYetValid},
		{name: "issued in the future", cfg: hsOnly, token: sign(t, jwt.SigningMethodHS256, []byte(secret), claims(map[string]any{"iat": now.Add(time.Hour).Unix()})), wantErr: ErrNotYetValid},
		{name: "alg none", cfg: both, token: sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(nil)), wantErr: ErrAlgorithm},
		{name: "RS256 when only HS256 configured", cfg: hsOnly, token: sign(t, jwt.SigningMethodRS256, k.main, claims(nil)), wantErr: ErrAlgorithm},
		{name: "key confusion: HS256 signed with public key, only RS256 configured", cfg: rsOnly, token: sign(t, jwt.SigningMethodHS256, []byte(pubPEM), claims(nil)), wantErr: ErrAlgorithm},
		{name: "key confusion: HS256 signed with public key, both configured", cfg: both, token: sign(t, jwt.SigningMethodHS256, []byte(pubPEM), claims(nil)), wantErr: ErrSignature},
		{name: "HS384 when HS256 configured", cfg: hsOnly, token: sign(t, jwt.SigningMethodHS384, []byte(secret), claims(nil)), wantErr: ErrAlgorithm},
		{name: "RS512 when RS256 configured", cfg: rsOnly, token: sign(t, jwt.SigningMethodRS512, k.main, claims(nil)), wantErr: ErrAlgorithm},
		{name: "unknown alg", cfg: hsOnly, token: withHeader(`{"alg":"XX999","typ":"JWT"}`, claims(nil)), wantErr: ErrAlgorithm},
		{name: "missing sub", cfg: hsOnly, token: sign(t, jwt.SigningMethodHS256, []byte(secret), claims(map[string]any{"sub": nil})), wantErr: ErrMissingSubject},
		{name: "empty sub", cfg: hsOnly, token: sign(t, jwt.SigningMethodHS256, []byte(secret), claims(map[string]any{"sub": "  "})), wantErr: ErrMissingSubject},
		{name: "non-string sub", cfg: hsOnly, token: sign(t, jwt.SigningMethodHS256, []byte(secret), claims(map[string]any{"sub": 42})), wantErr: ErrMalformed},
		{name: "empty token", cfg: hsOnly, token: "", wantErr: ErrMalformed},
		{name: "garbage", cfg: hsOnly, token: "not-a-jwt", wantErr: ErrMalformed},
		{name: "three garbage segments", cfg: hsOnly, token: "a.b.c", wantErr: ErrMalformed},

		{name: "issuer matches", cfg: Config{HMACSecret: secret, Issuer: "auth.example"}, token: sign(t, jwt.SigningMethodHS256, []byte(secret), claims(map[string]any{"iss": "auth.example"})), wantSub: "user-1"},
		{name: "issuer wrong", cfg: Config{HMACSecret: secret, Issuer: "auth.example"}, token: sign(t, jwt.SigningMethodHS256, []byte(secret), claims(map[string]any{"iss": "evil.example"})), wantErr: ErrIssuer},
		{name: "issuer missing", cfg: Config{HMACSecret: secret, Issuer: "auth.example"}, token: sign(t, jwt.SigningMethodHS256, []byte(secret), claims(nil)), wantErr: ErrIssuer},
		{name: "audience in list", cfg: Config{HMACSecret: secret, Audience: "realtime"}, token: sign(t, jwt.SigningMethodHS256, []byte(secret), claims(map[string]any{"aud": []string{"api", "realtime"}})), wantSub: "user-1"},
		{name: "audience as string", cfg: Config{HMACSecret: secret, Audience: "realtime"}, token: sign(t, jwt.SigningMethodHS256, []byte(secret), claims(map[string]any{"aud": "realtime"})), wantSub: "user-1"},
		{name: "audience wrong", cfg: Config{HMACSecret: secret, Audience: "realtime"}, token: sign(t, jwt.SigningMethodHS256, []byte(secret), claims(map[string]any{"aud": "api"})), wantErr: ErrAudience},
		{name: "audience missing", cfg: Config{HMACSecret: secret, Audience: "realtime"}, token: sign(t, jwt.SigningMethodHS256, []byte(secret), claims(nil)), wantErr: ErrAudience},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := NewVerifier(tt.cfg)
			if err != nil {
				t.Fatalf("NewVerifier: %v", err)
			}
			got, err := v.Verify(tt.token)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Verify error = %v, want %v", err, tt.wantErr)
				}
				if !strings.HasPrefix(err.Error(), "invalid token") {
					t.Errorf("error %q is not a client-safe message", err)
				}
				if got != (Claims{}) {
					t.Errorf("claims = %+v on error, want zero", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got.UserID != tt.wantSub {
				t.Errorf("UserID = %q, want %q", got.UserID, tt.wantSub)
			}
		})
	}
}

func TestVerifyReturnsExpiry(t *testing.T) {
	v, err := NewVerifier(Config{HMACSecret: secret})
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	got, err := v.Verify(sign(t, jwt.SigningMethodHS256, []byte(secret), claims(map[string]any{"exp": exp.Unix()})))
	if err != nil {
		t.Fatal(err)
	}
	if !got.ExpiresAt.Equal(exp) {
		t.Errorf("ExpiresAt = %v, want %v", got.ExpiresAt, exp)
	}
}

func TestNewVerifier(t *testing.T) {
	k := keys()
	pubPEM := publicPEM(t, &k.main.PublicKey)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "public.pem")
	if err := os.WriteFile(keyFile, []byte(pubPEM), 0o600); err != nil {
		t.Fatal(err)
	}
	pkcs1 := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&k.main.PublicKey)}))
	private := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k.main)}))
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		cfg     Config
		wantErr string // substring; empty = success
	}{
		{name: "secret only", cfg: Config{HMACSecret: secret}},
		{name: "PEM text", cfg: Config{RSAPublicKey: pubPEM}},
		{name: "PEM with escaped newlines", cfg: Config{RSAPublicKey: strings.ReplaceAll(pubPEM, "\n", `\n`)}},
		{name: "PKCS1 PEM", cfg: Config{RSAPublicKey: pkcs1}},
		{name: "PEM file path", cfg: Config{RSAPublicKey: keyFile}},
		{name: "nothing configured", cfg: Config{}, wantErr: "no key configured"},
		{name: "blank public key counts as unset", cfg: Config{RSAPublicKey: "  \n"}, wantErr: "no key configured"},
		{name: "missing file", cfg: Config{RSAPublicKey: filepath.Join(dir, "nope.pem")}, wantErr: "neither PEM text nor a readable file"},
		{name: "not PEM", cfg: Config{RSAPublicKey: "-----BEGIN PUBLIC KEY-----\ngarbage\n-----END PUBLIC KEY-----"}, wantErr: "JWT public key"},
		{name: "private key instead of public", cfg: Config{RSAPublicKey: private}, wantErr: "JWT public key"},
		{name: "weak RSA key", cfg: Config{RSAPublicKey: publicPEM(t, &weak.PublicKey)}, wantErr: "need at least 2048"},
		{name: "negative leeway", cfg: Config{HMACSecret: secret, Leeway: -time.Second}, wantErr: "leeway must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := NewVerifier(tt.cfg)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("NewVerifier: %v", err)
				}
				if v == nil {
					t.Fatal("nil verifier")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("NewVerifier error = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

// TestRSAFromFileVerifies makes sure a key loaded from a file is the key
// actually used, not merely parsed.
func TestRSAFromFileVerifies(t *testing.T) {
	k := keys()
	keyFile := filepath.Join(t.TempDir(), "public.pem")
	if err := os.WriteFile(keyFile, []byte(publicPEM(t, &k.main.PublicKey)), 0o600); err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(Config{RSAPublicKey: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(sign(t, jwt.SigningMethodRS256, k.main, claims(nil))); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if _, err := v.Verify(sign(t, jwt.SigningMethodRS256, k.other, claims(nil))); !errors.Is(err, ErrSignature) {
		t.Fatalf("Verify with other key: %v, want %v", err, ErrSignature)
	}
}

// tamper swaps the payload for one naming another user, keeping the
// original signature.
func tamper(t testing.TB, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	forged := strings.Split(sign(t, jwt.SigningMethodHS256, []byte("x"), claims(map[string]any{"sub": "admin"})), ".")
	return parts[0] + "." + forged[1] + "." + parts[2]
}

// withHeader builds an unsigned token with an arbitrary header, for algs the
// library cannot sign with.
func withHeader(header string, c jwt.MapClaims) string {
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, c)
	payload, _ := tok.SigningString()
	return tok.EncodeSegment([]byte(header)) + "." + strings.Split(payload, ".")[1] + ".c2ln"
}
