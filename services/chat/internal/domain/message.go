package domain

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// MaxMessageLength is the longest chat message, in characters (Unicode code
// points, as JSON Schema's maxLength counts them), that the contract allows
// (server/chat:message).
const MaxMessageLength = 500

// Refusal is a request the chat declines. Its text is shown to the user as
// is, in an `error` event.
type Refusal string

func (r Refusal) Error() string { return string(r) }

// The refusals with fixed texts. "Rate limit exceeded" is the seed's text.
const (
	ErrAnonymous   Refusal = "Anonymous users cannot post in chat"
	ErrEmpty       Refusal = "Message is empty"
	ErrRateLimited Refusal = "Rate limit exceeded"
)

// ErrTooLong is the refusal of a message longer than maxLength characters.
func ErrTooLong(maxLength int) Refusal {
	return Refusal(fmt.Sprintf("Message is too long (max %d characters)", maxLength))
}

// ChatMessage is an accepted chat message.
type ChatMessage struct {
	ID      string
	VideoID string
	UserID  string
	Text    string // cleaned
	At      time.Time
}

// Socket is one client connection and the edge that holds it: only that
// edge can deliver something meant for the socket alone.
type Socket struct {
	ID     string
	EdgeID string // "" if unknown: every edge is asked then
}

// Typing is a change of a user's typing indicator in a video's chat.
type Typing struct {
	VideoID  string
	UserID   string
	SocketID string // the typing socket, which does not hear about itself
	IsTyping bool
}

// PrepareMessage cleans raw (see CleanMessage) and checks the result: it
// must not be empty and must have at most maxLength characters.
func PrepareMessage(raw string, maxLength int) (string, error) {
	text := CleanMessage(raw)
	if text == "" {
		return "", ErrEmpty
	}
	if utf8.RuneCountInString(text) > maxLength {
		return "", ErrTooLong(maxLength)
	}
	return text, nil
}

// CleanMessage makes a chat message safe to show on one line:
//   - line breaks and tabs (\r\n, \r, \n, \t, \v, \f, NEL, U+2028, U+2029)
//     become one space each (\r\n counts as one break); runs of spaces are
//     kept, they are the author's;
//   - every other control character (Unicode Cc) is removed;
//   - bidirectional embeddings, overrides and isolates (U+202A..U+202E,
//     U+2066..U+2069) are removed: unterminated, they reorder the text
//     around the message in the reader's UI ("Trojan Source"). Other
//     format characters stay: ZWJ builds emoji, LRM/RLM are plain marks;
//   - bytes that are not UTF-8 become U+FFFD;
//   - whitespace and invisible format characters are trimmed from both ends,
//     so a message of only those is empty.
func CleanMessage(raw string) string {
	var b strings.Builder
	b.Grow(len(raw))
	for i := 0; i < len(raw); {
		r, size := utf8.DecodeRuneInString(raw[i:])
		i += size
		switch {
		case r == '\r':
			if i < len(raw) && raw[i] == '\n' {
				i++
			}
			b.WriteByte(' ')
		case isBreak(r):
			b.WriteByte(' ')
		case r == utf8.RuneError && size == 1:
			b.WriteRune(utf8.RuneError)
		case unicode.IsControl(r), isBidiControl(r):
			// dropped
		default:
			b.WriteRune(r)
		}
	}
	return strings.TrimFunc(b.String(), isBlank)
}

func isBreak(r rune) bool {
	switch r {
	case '\n', '\t', '\v', '\f', '\u0085', '\u2028', '\u2029':
		return true
	}
	return false
}

func isBidiControl(r rune) bool {
	return (r >= '\u202A' && r <= '\u202E') || (r >= '\u2066' && r <= '\u2069')
}

// isBlank is what is trimmed: whitespace and invisible format characters
// (zero-width space, BOM, joiners) that would make an empty-looking message.
func isBlank(r rune) bool {
	return unicode.IsSpace(r) || unicode.Is(unicode.Cf, r)
}
