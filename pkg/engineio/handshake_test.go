package engineio

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// What a session keeps of its request comes back field by field, whatever
// bytes the fields hold.
func TestHandshakeInfoRoundTrip(t *testing.T) {
	long := strings.Repeat("Mozilla/5.0 ", 40)
	tests := []struct {
		name       string
		remote     string
		host       string
		path       string
		rawQuery   string
		headers    map[string]string
		wantHeader map[string]string // nil: headers
	}{
		{name: "empty"},
		{name: "typical", remote: "127.0.0.5:43210", host: "127.0.0.1:4310", path: "/socket.io/", rawQuery: "EIO=4&transport=websocket",
			headers: map[string]string{"Origin": "https://example.test", "User-Agent": "ua"}},
		{name: "long header needs a two-byte length", path: "/", headers: map[string]string{"User-Agent": long}},
		{name: "decoded path with separators", path: "/a\x00b\nc\x01", rawQuery: "x=%00"},
		{name: "every kept header", headers: map[string]string{"Origin": "o", "User-Agent": "u", "X-Forwarded-For": "1.2.3.4", "X-Real-Ip": "5.6.7.8", "Forwarded": "for=x"}},
		{name: "other headers are not kept", headers: map[string]string{"Cookie": "secret", "Origin": "o"}, wantHeader: map[string]string{"Origin": "o"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &http.Request{RemoteAddr: tt.remote, Host: tt.host, URL: &url.URL{Path: tt.path, RawQuery: tt.rawQuery}, Header: http.Header{}}
			for k, v := range tt.headers {
				r.Header.Set(k, v)
			}
			got := newHandshake(r).request()
			if got.RemoteAddr != tt.remote || got.Host != tt.host || got.URL.Path != tt.path || got.URL.RawQuery != tt.rawQuery || got.Method != http.MethodGet {
				t.Fatalf("got remote %q host %q path %q query %q method %s", got.RemoteAddr, got.Host, got.URL.Path, got.URL.RawQuery, got.Method)
			}
			want := tt.wantHeader
			if want == nil {
				want = tt.headers
			}
			if len(got.Header) != len(want) {
				t.Fatalf("headers %v, want %v", got.Header, want)
			}
			for k, v := range want {
				if got.Header.Get(k) != v {
					t.Fatalf("header %s = %q, want %q", k, got.Header.Get(k), v)
				}
			}
		})
	}
}

// The packed form is one allocation the size of its text.
func TestHandshakeInfoIsCompact(t *testing.T) {
	r := &http.Request{RemoteAddr: "127.0.0.5:43210", Host: "127.0.0.1:4310", URL: &url.URL{Path: "/socket.io/", RawQuery: "EIO=4&transport=websocket"}, Header: http.Header{}}
	h := newHandshake(r)
	text := len(r.RemoteAddr) + len(r.Host) + len(r.URL.Path) + len(r.URL.RawQuery)
	if len(h) != text+hsFields {
		t.Fatalf("packed %d bytes for %d bytes of text and %d fields", len(h), text, hsFields)
	}
	if n := testing.AllocsPerRun(100, func() { _ = newHandshake(r) }); n != 1 {
		t.Fatalf("%v allocations", n)
	}
}
