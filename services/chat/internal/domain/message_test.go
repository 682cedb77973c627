package domain_test

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"realtime/services/chat/internal/domain"
)

func TestCleanMessage(t *testing.T) {
	tests := []struct {
		name, raw, want string
	}{
		{"plain", "Hello!", "Hello!"},
		{"inner spaces kept", "a  b   c", "a  b   c"},
		{"trimmed", "  hi there \t", "hi there"},
		{"CRLF is one space", "line1\r\nline2", "line1 line2"},
		{"lone CR and LF", "a\rb\nc", "a b c"},
		{"CR CR LF", "a\r\r\nb", "a  b"},
		{"tab", "a\tb", "a b"},
		{"vertical tab and form feed", "a\vb\fc", "a b c"},
		{"unicode line and paragraph separators", "a\u2028b\u2029c\u0085d", "a b c d"},
		{"NUL and bell removed", "a\x00b\x07c", "abc"},
		{"escape sequence loses its ESC", "\x1b[31mred", "[31mred"},
		{"DEL and C1 controls removed", "a\x7fb\u0080c\u009fd", "abcd"},
		{"bidi override removed", "abc\u202Edcba", "abcdcba"},
		{"bidi isolates removed", "\u2066x\u2069", "x"},
		{"emoji with ZWJ kept", "hi 👨\u200D👩\u200D👧", "hi 👨\u200D👩\u200D👧"},
		{"RTL marks kept inside", "שלום\u200Fabc", "שלום\u200Fabc"},
		{"accents and CJK kept", "héllo 世界", "héllo 世界"},
		{"zero-width space trimmed at the ends", "\u200Bhi\u200B", "hi"},
		{"BOM trimmed", "\uFEFFhi", "hi"},
		{"no-break space trimmed", "\u00A0hi\u00A0", "hi"},
		{"invalid UTF-8 replaced", "a\xffb", "a\uFFFDb"},
		{"empty", "", ""},
		{"whitespace only", " \t\r\n \u3000 ", ""},
		{"controls only", "\x00\x01\x1f", ""},
		{"zero-width only", "\u200B\u200D\uFEFF", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := domain.CleanMessage(tt.raw)
			if got != tt.want {
				t.Errorf("CleanMessage(%q) = %q, want %q", tt.raw, got, tt.want)
			}
			if !utf8.ValidString(got) {
				t.Errorf("CleanMessage(%q) = %q is not valid UTF-8", tt.raw, got)
			}
		})
	}
}

func TestPrepareMessage(t *testing.T) {
	const max = domain.MaxMessageLength
	tests := []struct {
		name    string
		raw     string
		want    string
		wantErr error
	}{
		{"ok", " Hello! ", "Hello!", nil},
		{"empty", "", "", domain.ErrEmpty},
		{"whitespace only", "  \r\n\t ", "", domain.ErrEmpty},
		{"controls only", "\x00\x1b", "", domain.ErrEmpty},
		{"500 ASCII", strings.Repeat("a", 500), strings.Repeat("a", 500), nil},
		{"501 ASCII", strings.Repeat("a", 501), "", domain.ErrTooLong(max)},
		{"500 runes of 3 bytes", strings.Repeat("世", 500), strings.Repeat("世", 500), nil},
		{"501 runes of 3 bytes", strings.Repeat("世", 501), "", domain.ErrTooLong(max)},
		{"500 emoji of 4 bytes", strings.Repeat("😀", 500), strings.Repeat("😀", 500), nil},
		{"501 emoji of 4 bytes", strings.Repeat("😀", 501), "", domain.ErrTooLong(max)},
		{"501 with a space trimmed is 500", strings.Repeat("a", 500) + " ", strings.Repeat("a", 500), nil},
		{"length counted after removing controls", strings.Repeat("a\x00", 500), strings.Repeat("a", 500), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := domain.PrepareMessage(tt.raw, max)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("text = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRefusalTexts(t *testing.T) {
	for got, want := range map[domain.Refusal]string{
		domain.ErrRateLimited:  "Rate limit exceeded",
		domain.ErrAnonymous:    "Anonymous users cannot post in chat",
		domain.ErrEmpty:        "Message is empty",
		domain.ErrTooLong(500): "Message is too long (max 500 characters)",
	} {
		if got.Error() != want {
			t.Errorf("refusal text %q, want %q", got.Error(), want)
		}
	}
}
