//go:build linux

package engineio

import (
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

func pollerConns(srv *Server) int {
	srv.pollMu.Lock()
	defer srv.pollMu.Unlock()
	n := 0
	for _, p := range srv.pollers {
		p.mu.Lock()
		n += len(p.conns)
		p.mu.Unlock()
	}
	return n
}

// Idle WebSocket sessions are watched by the server's pollers: no goroutine
// per connection, and the pollers end with the server.
func TestIdleWebSocketsHoldNoGoroutine(t *testing.T) {
	rec := newRecorder()
	rec.closes = make(chan string, 100)
	srv, ts := newTestServer(t, Config{}, rec)
	conn0 := dialWS(t, ts.URL, "") // starts the pollers
	readText(t, conn0)
	waitFor(t, func() bool { return pollerConns(srv) == 1 })
	before := runtime.NumGoroutine()
	const n = 40
	conns := make([]net.Conn, n)
	for i := range conns {
		conns[i] = dialWS(t, ts.URL, "")
		readText(t, conns[i])
	}
	for _, c := range conns {
		_ = wsutil.WriteClientText(c, []byte("4hi"))
		if got := readText(t, c); got != "4hi" {
			t.Fatalf("echo %q", got)
		}
	}
	waitFor(t, func() bool { return runtime.NumGoroutine() < before+n/4 })
	if got := pollerConns(srv); got != n+1 {
		t.Fatalf("%d connections registered, want %d", got, n+1)
	}
	// Client-side closes unregister the connections.
	for _, c := range conns[:n/2] {
		_ = c.Close()
	}
	for range n / 2 {
		if reason := rec.waitClose(t); reason != ReasonTransportClose {
			t.Fatalf("reason %q", reason)
		}
	}
	waitFor(t, func() bool { return pollerConns(srv) == n/2+1 })

	baseline := before - pollerCount() // pollers started with conn0
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return runtime.NumGoroutine() <= baseline+2 })
}

type blocking struct {
	*recorder
	release chan struct{}
}

func (b blocking) OnMessage(s *Session, data []byte, binary bool) {
	if string(data) == "block" {
		<-b.release
	}
	b.recorder.OnMessage(s, data, binary)
}

// A handler that waits (on a bus, say) holds up its own session only.
func TestSlowHandlerDoesNotBlockOtherSessions(t *testing.T) {
	h := blocking{newRecorder(), make(chan struct{})}
	_, ts := newTestServer(t, Config{}, h)
	slow := dialWS(t, ts.URL, "")
	readText(t, slow)
	_ = wsutil.WriteClientText(slow, []byte("4block"))
	_ = wsutil.WriteClientText(slow, []byte("4after"))
	for range 5 {
		c := dialWS(t, ts.URL, "")
		readText(t, c)
		_ = wsutil.WriteClientText(c, []byte("4x"))
		if got := readText(t, c); got != "4x" {
			t.Fatalf("echo %q", got)
		}
	}
	close(h.release)
	if a, b := readText(t, slow), readText(t, slow); a != "4block" || b != "4after" {
		t.Fatalf("slow session got %q, %q", a, b)
	}
}

// Frames sent together with the upgrade request are not lost.
func TestFramesPipelinedWithHandshake(t *testing.T) {
	_, ts := newTestServer(t, Config{}, newRecorder())
	raw, err := net.Dial("tcp", strings.TrimPrefix(ts.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	_ = raw.SetDeadline(time.Now().Add(5 * time.Second))
	req := "GET /?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nUser-Agent: pipeliner\r\n\r\n"
	msg := maskedFrame(ws.OpText, true, []byte("4early"))
	if _, err := raw.Write(append([]byte(req), msg...)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1)
	var head []byte
	for !strings.HasSuffix(string(head), "\r\n\r\n") {
		if _, err := raw.Read(buf); err != nil {
			t.Fatal(err)
		}
		head = append(head, buf[0])
	}
	if open := readText(t, raw); !strings.HasPrefix(open, "0{") {
		t.Fatalf("open %q", open)
	}
	if got := readText(t, raw); got != "4early" {
		t.Fatalf("got %q", got)
	}
}

// Sessions keep a trimmed copy of their request.
func TestSessionRequestIsTrimmed(t *testing.T) {
	got := make(chan *Session, 1)
	h := &openSpy{recorder: newRecorder(), opened: got}
	_, ts := newTestServer(t, Config{}, h)
	conn := dialWS(t, ts.URL, "")
	readText(t, conn)
	s := <-got
	r := s.Request()
	if r.RemoteAddr == "" || r.URL.Query().Get("transport") != "websocket" || r.Method != "GET" {
		t.Fatalf("request %+v", r)
	}
}

// The 101 response and the open packet of a direct WebSocket open go out in
// one write, so the client's first read holds both; a request the upgrader
// refuses still gets its error response and a closed connection.
func TestWebSocketHandshakeResponse(t *testing.T) {
	_, ts := newTestServer(t, Config{}, newRecorder())
	const reqHead = "GET /?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	for _, tc := range []struct {
		name, version, want string
	}{
		{"accepted", "13", "HTTP/1.1 101 Switching Protocols\r\n"},
		{"unknown version", "8", "HTTP/1.1 426 "},
		{"no version", "", "HTTP/1.1 400 "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := net.Dial("tcp", strings.TrimPrefix(ts.URL, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			_ = raw.SetDeadline(time.Now().Add(5 * time.Second))
			req := reqHead
			if tc.version != "" {
				req += "Sec-WebSocket-Version: " + tc.version + "\r\n"
			}
			if _, err := raw.Write([]byte(req + "\r\n")); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 4096)
			n, err := raw.Read(buf)
			if err != nil {
				t.Fatal(err)
			}
			got := string(buf[:n])
			if !strings.HasPrefix(got, tc.want) {
				t.Fatalf("response %q", got)
			}
			if tc.version != "13" {
				if _, err := io.ReadAll(raw); err != nil {
					t.Fatalf("connection not closed: %v", err)
				}
				return
			}
			if !strings.Contains(got, "\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n") {
				t.Fatalf("response %q", got)
			}
			i := strings.Index(got, "\r\n\r\n")
			f, err := ws.ReadFrame(strings.NewReader(got[i+4:]))
			if err != nil || f.Header.OpCode != ws.OpText || !strings.HasPrefix(string(f.Payload), "0{") {
				t.Fatalf("first read holds %q after the response: %v", got[i+4:], err)
			}
		})
	}
}

func spawnedReads(srv *Server) int64 {
	srv.pollMu.Lock()
	defer srv.pollMu.Unlock()
	var n int64
	for _, p := range srv.pollers {
		n += p.spawned.Load()
	}
	return n
}

// Pongs are handled by the poller itself: a heartbeat starts no goroutine,
// and it still keeps the session alive; a message still goes to the
// handler on a goroutine.
func TestPongsHandledWithoutGoroutine(t *testing.T) {
	rec := newRecorder()
	srv, ts := newTestServer(t, Config{PingInterval: 30 * time.Millisecond, PingTimeout: 200 * time.Millisecond}, rec)
	conn := dialWS(t, ts.URL, "")
	readText(t, conn)
	waitFor(t, func() bool { return pollerConns(srv) == 1 })
	before := spawnedReads(srv)
	const pings = 5 // 5 × PingInterval is longer than PingTimeout: pongs must count
	for range pings {
		if got := readText(t, conn); got != "2" {
			t.Fatalf("got %q, want ping", got)
		}
		if err := wsutil.WriteClientText(conn, []byte("3")); err != nil {
			t.Fatal(err)
		}
	}
	if n := spawnedReads(srv) - before; n != 0 {
		t.Fatalf("%d goroutines started for %d pongs", n, pings)
	}
	if err := wsutil.WriteClientText(conn, []byte("4echo")); err != nil {
		t.Fatal(err)
	}
	for {
		got := readText(t, conn)
		if got == "2" {
			_ = wsutil.WriteClientText(conn, []byte("3"))
			continue
		}
		if got != "4echo" {
			t.Fatalf("got %q, want the echo", got)
		}
		break
	}
	if spawnedReads(srv) == before {
		t.Fatal("a message was not handed to a goroutine")
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.closed) != 0 {
		t.Fatalf("session closed: %v", rec.closed)
	}
}
