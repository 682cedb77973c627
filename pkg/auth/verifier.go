// Package auth verifies the JSON Web Tokens that clients present when they
// connect. It knows nothing about sockets or services: it turns a token string
// into the identity it proves, or into a short error that is safe to show the
// client that sent it.
package auth

import (
	"crypto/rsa"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// DefaultLeeway absorbs clock skew between the machine that issued a token and
// this one. It is small on purpose: it extends the life of every token.
const DefaultLeeway = 30 * time.Second

// minRSABits refuses keys that are too weak to trust; 2048 is the floor that
// NIST and every mainstream identity provider use.
const minRSABits = 2048

// The errors Verify returns. Their messages are meant for the client: they say
// what was wrong with the token without echoing it or revealing configuration.
var (
	ErrMalformed       = errors.New("invalid token: malformed")
	ErrAlgorithm       = errors.New("invalid token: algorithm not allowed")
	ErrSignature       = errors.New("invalid token: bad signature")
	ErrExpired         = errors.New("invalid token: expired")
	ErrNotYetValid     = errors.New("invalid token: not valid yet")
	ErrIssuer          = errors.New("invalid token: wrong issuer")
	ErrAudience        = errors.New("invalid token: wrong audience")
	ErrMissingSubject  = errors.New("invalid token: missing subject")
	ErrInvalid         = errors.New("invalid token")
	errNoKeyConfigured = errors.New("auth: no key configured: set an HS256 secret and/or an RS256 public key")
)

// Config says which tokens a Verifier accepts. At least one of HMACSecret and
// RSAPublicKey must be set; each one enables exactly one algorithm.
type Config struct {
	// HMACSecret enables HS256 with this shared secret.
	HMACSecret string
	// RSAPublicKey enables RS256. It is either the PEM text itself (a
	// "PUBLIC KEY", "RSA PUBLIC KEY" or "CERTIFICATE" block; literal "\n"
	// sequences are accepted because env files often flatten PEM that way)
	// or the path of a file holding it.
	RSAPublicKey string
	// Issuer, when set, must equal the token's iss claim.
	Issuer string
	// Audience, when set, must be one of the token's aud values.
	Audience string
	// Leeway tolerates clock skew on exp, nbf and iat. Zero means
	// DefaultLeeway; a negative value is refused.
	Leeway time.Duration
}

// Claims is what a verified token proves.
type Claims struct {
	// UserID is the token's sub claim; never empty.
	UserID string
	// ExpiresAt is the token's exp claim, or the zero time when it has none.
	ExpiresAt time.Time
}

// Verifier checks tokens against a fixed configuration. It is safe for
// concurrent use and holds no mutable state.
type Verifier struct {
	hmacSecret []byte
	rsaKey     *rsa.PublicKey
	parser     *jwt.Parser
	methods    []string
	issuer     string
	audience   string
}

// NewVerifier validates cfg and loads the public key, so that a broken key
// fails at startup rather than on the first connection.
func NewVerifier(cfg Config) (*Verifier, error) {
	v := &Verifier{issuer: cfg.Issuer, audience: cfg.Audience}
	if cfg.HMACSecret != "" {
		v.hmacSecret = []byte(cfg.HMACSecret)
		v.methods = append(v.methods, jwt.SigningMethodHS256.Alg())
	}
	if strings.TrimSpace(cfg.RSAPublicKey) != "" {
		key, err := loadRSAPublicKey(cfg.RSAPublicKey)
		if err != nil {
			return nil, err
		}
		v.rsaKey = key
		v.methods = append(v.methods, jwt.SigningMethodRS256.Alg())
	}
	if len(v.methods) == 0 {
		return nil, errNoKeyConfigured
	}

	leeway := cfg.Leeway
	switch {
	case leeway < 0:
		return nil, fmt.Errorf("auth: leeway must not be negative, got %s", leeway)
	case leeway == 0:
		leeway = DefaultLeeway
	}

	opts := []jwt.ParserOption{
		// The allow-list is checked before any key is looked up; keyFor
		// checks again, so neither alone has to be right.
		jwt.WithValidMethods(v.methods),
		jwt.WithLeeway(leeway),
		// A token issued in the future is as suspicious as one not yet valid.
		jwt.WithIssuedAt(),
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	v.parser = jwt.NewParser(opts...)
	return v, nil
}

// Verify checks the token's signature and time window and returns its
// subject. Every error it returns is one of the Err* values above.
func (v *Verifier) Verify(token string) (Claims, error) {
	var rc jwt.RegisteredClaims
	parsed, err := v.parser.ParseWithClaims(token, &rc, v.keyFor)
	if err != nil {
		return Claims{}, v.classify(parsed, &rc, err)
	}
	if strings.TrimSpace(rc.Subject) == "" {
		return Claims{}, ErrMissingSubject
	}
	c := Claims{UserID: rc.Subject}
	if rc.ExpiresAt != nil {
		c.ExpiresAt = rc.ExpiresAt.Time
	}
	return c, nil
}

// keyFor hands out a key only for the algorithm that key was configured for.
// Matching on the concrete method type, not just the alg name, is what stops
// key confusion: an HS256 token can never be checked against the RSA public
// key bytes, and "none" never gets a key at all.
func (v *Verifier) keyFor(t *jwt.Token) (any, error) {
	switch m := t.Method.(type) {
	case *jwt.SigningMethodHMAC:
		if m == jwt.SigningMethodHS256 && v.hmacSecret != nil {
			return v.hmacSecret, nil
		}
	case *jwt.SigningMethodRSA:
		if m == jwt.SigningMethodRS256 && v.rsaKey != nil {
			return v.rsaKey, nil
		}
	}
	return nil, ErrAlgorithm
}

// classify maps the library's detailed errors onto the short public ones.
// Order matters: a token whose alg is not allowed is reported as such even
// though the library files that case under "signature invalid".
func (v *Verifier) classify(t *jwt.Token, rc *jwt.RegisteredClaims, err error) error {
	if t != nil && t.Method != nil && !v.allows(t.Method.Alg()) {
		return ErrAlgorithm
	}
	switch {
	case errors.Is(err, ErrAlgorithm):
		return ErrAlgorithm
	case errors.Is(err, jwt.ErrTokenMalformed):
		return ErrMalformed
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		// The parser could not even pick a verification method (unknown alg).
		return ErrAlgorithm
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return ErrSignature
	case errors.Is(err, jwt.ErrTokenExpired):
		return ErrExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return ErrNotYetValid
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return ErrIssuer
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return ErrAudience
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		// Claims were decoded before validation, so the missing one can be
		// named from them rather than from the library's message text.
		if v.issuer != "" && rc.Issuer == "" {
			return ErrIssuer
		}
		if v.audience != "" && len(rc.Audience) == 0 {
			return ErrAudience
		}
		return ErrInvalid
	default:
		return ErrInvalid
	}
}

func (v *Verifier) allows(alg string) bool {
	for _, m := range v.methods {
		if m == alg {
			return true
		}
	}
	return false
}

// loadRSAPublicKey accepts PEM text or a path to a PEM file: deployments
// differ in whether they mount keys as files or inject them as variables.
func loadRSAPublicKey(value string) (*rsa.PublicKey, error) {
	text := strings.TrimSpace(value)
	source := "JWT public key"
	if !strings.HasPrefix(text, "-----BEGIN") {
		data, err := os.ReadFile(text)
		if err != nil {
			return nil, fmt.Errorf("auth: public key is neither PEM text nor a readable file: %w", err)
		}
		text = string(data)
		source = "JWT public key file " + value
	}
	text = strings.ReplaceAll(text, `\n`, "\n")
	key, err := jwt.ParseRSAPublicKeyFromPEM([]byte(text))
	if err != nil {
		return nil, fmt.Errorf("auth: %s: %w", source, err)
	}
	if key.N.BitLen() < minRSABits {
		return nil, fmt.Errorf("auth: %s: RSA key has %d bits, need at least %d", source, key.N.BitLen(), minRSABits)
	}
	return key, nil
}
