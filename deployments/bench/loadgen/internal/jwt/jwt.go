// Package jwt signs the HS256 tokens the load generator presents at CONNECT.
// It is the few lines RFC 7519 needs, so the client pulls in no JWT library.
package jwt

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"strconv"
	"time"
)

// header is {"alg":"HS256","typ":"JWT"}, base64url encoded.
const header = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"

// Signer makes HS256 tokens for one secret. Not safe for concurrent use
// (it reuses its MAC); make one per goroutine.
type Signer struct {
	mac hash.Hash
	buf []byte
}

// NewSigner returns a Signer for secret.
func NewSigner(secret string) *Signer {
	return &Signer{mac: hmac.New(sha256.New, []byte(secret))}
}

// Sign returns a token for subject sub, issued now and valid for ttl.
func (s *Signer) Sign(sub string, now time.Time, ttl time.Duration) string {
	claims := make([]byte, 0, 64+len(sub))
	claims = append(claims, `{"sub":`...)
	claims = strconv.AppendQuote(claims, sub)
	claims = append(claims, `,"iat":`...)
	claims = strconv.AppendInt(claims, now.Unix(), 10)
	claims = append(claims, `,"exp":`...)
	claims = strconv.AppendInt(claims, now.Add(ttl).Unix(), 10)
	claims = append(claims, '}')

	enc := base64.RawURLEncoding
	b := s.buf[:0]
	b = append(b, header...)
	b = append(b, '.')
	b = enc.AppendEncode(b, claims)
	s.mac.Reset()
	s.mac.Write(b)
	var sum [sha256.Size]byte
	b = append(b, '.')
	b = enc.AppendEncode(b, s.mac.Sum(sum[:0]))
	s.buf = b
	return string(b)
}
