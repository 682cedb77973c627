package service

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// pollingClient speaks just enough Engine.IO v4 long-polling to drive the
// service from tests, byte for byte as socket.io-client sends it.
type pollingClient struct {
	t    *testing.T
	base string // e.g. http://127.0.0.1:1234
	sid  string
	http *http.Client
	buf  []string // packets polled but not yet consumed by receiveEvent
}

func handshake(t *testing.T, base string) *pollingClient {
	t.Helper()
	c := &pollingClient{t: t, base: base, http: &http.Client{Timeout: 5 * time.Second}}
	code, body := c.do(http.MethodGet, base+"/socket.io/?EIO=4&transport=polling", "")
	if code != http.StatusOK || !strings.HasPrefix(body, "0{") {
		t.Fatalf("handshake: %d %q", code, body)
	}
	var open struct {
		SID string `json:"sid"`
	}
	if err := json.Unmarshal([]byte(body[1:]), &open); err != nil || open.SID == "" {
		t.Fatalf("handshake body %q: %v", body, err)
	}
	c.sid = open.SID
	return c
}

func (c *pollingClient) url() string {
	return c.base + "/socket.io/?EIO=4&transport=polling&sid=" + c.sid
}

func (c *pollingClient) do(method, url, body string) (int, string) {
	c.t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// send posts packets in one payload, separated as the protocol requires.
func (c *pollingClient) send(packets ...string) {
	c.t.Helper()
	code, body := c.do(http.MethodPost, c.url(), strings.Join(packets, "\x1e"))
	if code != http.StatusOK || body != "ok" {
		c.t.Fatalf("POST: %d %q", code, body)
	}
}

// poll does one GET and returns its packets.
func (c *pollingClient) poll() []string {
	c.t.Helper()
	code, body := c.do(http.MethodGet, c.url(), "")
	if code != http.StatusOK {
		c.t.Fatalf("GET: %d %q", code, body)
	}
	return strings.Split(body, "\x1e")
}

// receive polls until it has collected n packets.
func (c *pollingClient) receive(n int) []string {
	c.t.Helper()
	var got []string
	for len(got) < n {
		got = append(got, c.poll()...)
	}
	return got
}

// connect joins namespace "/" with the given auth payload ("" for none) and
// returns the server's answer.
func (c *pollingClient) connect(auth string) string {
	c.t.Helper()
	c.send("40" + auth)
	return c.receive(1)[0]
}
