package engineio

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// recorder is a Handler that echoes messages and records closes.
type recorder struct {
	mu     sync.Mutex
	closed map[string]string
	closes chan string
	noEcho bool
}

func newRecorder() *recorder {
	return &recorder{closed: map[string]string{}, closes: make(chan string, 16)}
}

func (r *recorder) OnOpen(*Session) {}
func (r *recorder) OnMessage(s *Session, data []byte, binary bool) {
	if r.noEcho {
		return
	}
	m := NewTextMessage(data)
	if binary {
		m = NewBinaryMessage(data)
	}
	_ = s.Send(m)
}
func (r *recorder) OnClose(s *Session, reason string) {
	r.mu.Lock()
	r.closed[s.ID()] = reason
	r.mu.Unlock()
	r.closes <- reason
}

// openSpy is a recorder that hands out every session it sees open.
type openSpy struct {
	*recorder
	opened chan *Session
}

func (o *openSpy) OnOpen(s *Session) { o.opened <- s }

func (r *recorder) waitClose(t *testing.T) string {
	t.Helper()
	select {
	case reason := <-r.closes:
		return reason
	case <-time.After(5 * time.Second):
		t.Fatal("session not closed")
		return ""
	}
}

func newTestServer(t *testing.T, cfg Config, h Handler) (*Server, *httptest.Server) {
	t.Helper()
	srv := NewServer(cfg, h)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	t.Cleanup(func() { _ = srv.Close() })
	return srv, ts
}

func handshake(t *testing.T, base string) string {
	t.Helper()
	res, err := http.Get(base + "/?EIO=4&transport=polling")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || body[0] != '0' {
		t.Fatalf("handshake: %d %s", res.StatusCode, body)
	}
	var open struct{ Sid string }
	if err := json.Unmarshal(body[1:], &open); err != nil {
		t.Fatal(err)
	}
	return open.Sid
}

func post(t *testing.T, base, sid, body string) int {
	t.Helper()
	res, err := http.Post(base+"/?EIO=4&transport=polling&sid="+sid, "text/plain", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

func poll(t *testing.T, base, sid string) (int, string) {
	t.Helper()
	res, err := http.Get(base + "/?EIO=4&transport=polling&sid=" + sid)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

func dialWS(t *testing.T, base, query string) net.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, br, _, err := ws.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/?EIO=4&transport=websocket"+query)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if br != nil {
		// Frames that arrived with the handshake response wait in br.
		return &bufferedConn{Conn: conn, r: io.MultiReader(br, conn)}
	}
	return conn
}

type bufferedConn struct {
	net.Conn
	r io.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func TestRequestValidation(t *testing.T) {
	_, ts := newTestServer(t, Config{}, newRecorder())
	tests := []struct {
		name   string
		method string
		query  string
		status int
	}{
		{"missing EIO", "GET", "?transport=polling", 400},
		{"EIO 3", "GET", "?EIO=3&transport=polling", 400},
		{"bad EIO", "GET", "?EIO=abc&transport=polling", 400},
		{"missing transport", "GET", "?EIO=4", 400},
		{"unknown transport", "GET", "?EIO=4&transport=udp", 400},
		{"POST handshake", "POST", "?EIO=4&transport=polling", 400},
		{"PUT handshake", "PUT", "?EIO=4&transport=polling", 400},
		{"unknown sid", "GET", "?EIO=4&transport=polling&sid=nope", 400},
		{"websocket without upgrade", "GET", "?EIO=4&transport=websocket", 400},
		{"handshake", "GET", "?EIO=4&transport=polling", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, ts.URL+"/"+tt.query, nil)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", res.StatusCode, tt.status)
			}
		})
	}
}

func TestCORS(t *testing.T) {
	_, ts := newTestServer(t, Config{AllowedOrigins: []string{"https://app.example"}}, newRecorder())
	for _, tt := range []struct {
		origin string
		status int
		allow  string
	}{
		{"https://app.example", 200, "https://app.example"},
		{"https://evil.example", 403, ""},
		{"", 200, ""},
	} {
		req, _ := http.NewRequest("GET", ts.URL+"/?EIO=4&transport=polling", nil)
		if tt.origin != "" {
			req.Header.Set("Origin", tt.origin)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != tt.status || res.Header.Get("Access-Control-Allow-Origin") != tt.allow {
			t.Errorf("origin %q: status %d allow %q", tt.origin, res.StatusCode, res.Header.Get("Access-Control-Allow-Origin"))
		}
	}
}

func TestPollingPayloadTooLarge(t *testing.T) {
	rec := newRecorder()
	_, ts := newTestServer(t, Config{MaxPayload: 100}, rec)
	sid := handshake(t, ts.URL)
	if code := post(t, ts.URL, sid, "4"+strings.Repeat("x", 200)); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413", code)
	}
	if reason := rec.waitClose(t); reason != ReasonParseError {
		t.Fatalf("reason %q", reason)
	}
	if code, _ := poll(t, ts.URL, sid); code != 400 {
		t.Fatalf("session still open: %d", code)
	}
}

func TestPollingEchoAndClose(t *testing.T) {
	rec := newRecorder()
	srv, ts := newTestServer(t, Config{}, rec)
	sid := handshake(t, ts.URL)
	if code := post(t, ts.URL, sid, "4a\x1ebAQID\x1e4c"); code != 200 {
		t.Fatalf("post %d", code)
	}
	if _, body := poll(t, ts.URL, sid); body != "4a\x1ebAQID\x1e4c" {
		t.Fatalf("echo %q", body)
	}
	got := make(chan string, 1)
	go func() { _, body := poll(t, ts.URL, sid); got <- body }()
	waitFor(t, func() bool {
		s := srv.Session(sid)
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.x.pollWaiting
	})
	post(t, ts.URL, sid, "1")
	if body := <-got; body != "6" {
		t.Fatalf("parked GET got %q, want noop", body)
	}
	if reason := rec.waitClose(t); reason != ReasonClientClose {
		t.Fatalf("reason %q", reason)
	}
	if srv.Stats().Sessions.Load() != 0 {
		t.Fatal("session still counted")
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func readText(t *testing.T, conn net.Conn) string {
	t.Helper()
	for {
		data, op, err := wsutil.ReadServerData(conn)
		if err != nil {
			t.Fatal(err)
		}
		if op == ws.OpText {
			return string(data)
		}
	}
}

func TestWebSocketFragmentsAndBinary(t *testing.T) {
	_, ts := newTestServer(t, Config{}, newRecorder())
	conn := dialWS(t, ts.URL, "")
	if open := readText(t, conn); !strings.HasPrefix(open, `0{"sid":"`) || !strings.Contains(open, `"upgrades":[]`) {
		t.Fatalf("open %s", open)
	}
	// A text message split over three frames, with a ping in between.
	for _, f := range []ws.Frame{
		ws.NewFrame(ws.OpText, false, []byte("4he")),
		ws.NewPingFrame([]byte("p")),
		ws.NewFrame(ws.OpContinuation, false, []byte("ll")),
		ws.NewFrame(ws.OpContinuation, true, []byte("o")),
		ws.NewBinaryFrame([]byte{1, 2, 3}),
	} {
		if err := ws.WriteFrame(conn, ws.MaskFrameInPlace(f)); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for len(got) < 3 {
		f, err := ws.ReadFrame(conn)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, opName[f.Header.OpCode]+":"+string(f.Payload))
	}
	want := []string{"pong:p", "text:4hello", "binary:\x01\x02\x03"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got %q, want %q", got, want)
	}
}

var opName = map[ws.OpCode]string{ws.OpText: "text", ws.OpBinary: "binary", ws.OpPong: "pong", ws.OpClose: "close"}

func TestWebSocketTooBig(t *testing.T) {
	rec := newRecorder()
	_, ts := newTestServer(t, Config{MaxPayload: 64}, rec)
	conn := dialWS(t, ts.URL, "")
	readText(t, conn)
	if err := wsutil.WriteClientText(conn, bytes.Repeat([]byte("4"), 100)); err != nil {
		t.Fatal(err)
	}
	f, err := ws.ReadFrame(conn)
	if err != nil {
		t.Fatal(err)
	}
	code, _ := ws.ParseCloseFrameData(f.Payload)
	if f.Header.OpCode != ws.OpClose || code != ws.StatusMessageTooBig {
		t.Fatalf("got %v %v, want close 1009", f.Header.OpCode, code)
	}
	if reason := rec.waitClose(t); reason != ReasonParseError {
		t.Fatalf("reason %q", reason)
	}
}

func TestWebSocketPingTimeout(t *testing.T) {
	rec := newRecorder()
	srv, ts := newTestServer(t, Config{PingInterval: 50 * time.Millisecond, PingTimeout: 50 * time.Millisecond}, rec)
	conn := dialWS(t, ts.URL, "")
	readText(t, conn)
	if ping := readText(t, conn); ping != "2" {
		t.Fatalf("got %q, want ping", ping)
	}
	if reason := rec.waitClose(t); reason != ReasonPingTimeout {
		t.Fatalf("reason %q", reason)
	}
	if srv.Stats().PingTimeouts.Load() != 1 {
		t.Fatal("ping timeout not counted")
	}
}

// A client that never reads must not grow server memory without bound: its
// session is closed once MaxBufferedBytes are waiting.
func TestSlowConsumerIsDisconnected(t *testing.T) {
	rec := newRecorder()
	rec.noEcho = true
	// The session as the application gets it, from OnOpen: a session
	// closed before it began is never reported (see begin).
	opened := make(chan *Session, 1)
	_, ts := newTestServer(t, Config{MaxBufferedBytes: 64 << 10, WriteTimeout: 200 * time.Millisecond}, &openSpy{recorder: rec, opened: opened})
	conn := dialWS(t, ts.URL, "")
	readText(t, conn)
	s := <-opened
	msg := NewTextMessage(bytes.Repeat([]byte("x"), 16<<10))
	var err error
	for i := 0; i < 100_000 && err == nil; i++ {
		err = s.Send(msg)
	}
	if err != ErrSlowConsumer && err != ErrSessionClosed {
		t.Fatalf("send err = %v", err)
	}
	if reason := rec.waitClose(t); reason != ReasonSlowConsumer && reason != ReasonTransportError {
		t.Fatalf("reason %q", reason)
	}
	// The rest of a frame already partly written is kept until the writer
	// gives up (WriteTimeout), so that the close frame starts on a frame
	// boundary; nothing else is held.
	s.mu.Lock()
	queued := len(s.queue)
	s.mu.Unlock()
	if queued > 1 {
		t.Fatalf("%d messages still held after close", queued)
	}
	waitFor(t, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.queue) == 0
	})
}

func TestUpgrade(t *testing.T) {
	rec := newRecorder()
	srv, ts := newTestServer(t, Config{}, rec)
	sid := handshake(t, ts.URL)
	parked := make(chan string, 1)
	go func() { _, body := poll(t, ts.URL, sid); parked <- body }()
	waitFor(t, func() bool {
		s := srv.Session(sid)
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.x.pollWaiting
	})
	conn := dialWS(t, ts.URL, "&sid="+sid)
	_ = wsutil.WriteClientText(conn, []byte("2probe"))
	if got := readText(t, conn); got != "3probe" {
		t.Fatalf("probe answer %q", got)
	}
	if body := <-parked; body != "6" {
		t.Fatalf("parked GET got %q, want noop", body)
	}
	// A second WebSocket for the same session is closed at once while probing.
	c2 := dialWS(t, ts.URL, "&sid="+sid)
	if f, err := ws.ReadFrame(c2); err != nil || f.Header.OpCode != ws.OpClose {
		t.Fatalf("second websocket: %v %v", f.Header.OpCode, err)
	}
	_ = wsutil.WriteClientText(conn, []byte("5"))
	_ = wsutil.WriteClientText(conn, []byte("4hello"))
	if got := readText(t, conn); got != "4hello" {
		t.Fatalf("echo over websocket %q", got)
	}
	if code, _ := poll(t, ts.URL, sid); code != 400 {
		t.Fatalf("polling after upgrade: %d", code)
	}
	if srv.Stats().Upgrades.Load() != 1 {
		t.Fatal("upgrade not counted")
	}
}

func TestShutdownClosesSessions(t *testing.T) {
	rec := newRecorder()
	opened := make(chan *Session, 2)
	srv, ts := newTestServer(t, Config{}, &openSpy{recorder: rec, opened: opened})
	conn := dialWS(t, ts.URL, "")
	readText(t, conn)
	sid := handshake(t, ts.URL)
	// Both sessions reached the handler (the client reads the open packet
	// of a WebSocket before OnOpen runs); one closed before that would not
	// be reported to it at all (TestHandlerCallOrderAroundOpen).
	<-opened
	<-opened
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	f, err := ws.ReadFrame(conn)
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := ws.ParseCloseFrameData(f.Payload); f.Header.OpCode != ws.OpClose || code != ws.StatusGoingAway {
		t.Fatalf("got %v %v, want close 1001", f.Header.OpCode, code)
	}
	if code, _ := poll(t, ts.URL, sid); code != 400 {
		t.Fatalf("polling session still open: %d", code)
	}
	if res, err := http.Get(ts.URL + "/?EIO=4&transport=polling"); err != nil || res.StatusCode != 503 {
		t.Fatalf("new session during shutdown: %v %v", res.StatusCode, err)
	}
	rec.waitClose(t)
	rec.waitClose(t)
}

type panicky struct{ *recorder }

func (p panicky) OnMessage(*Session, []byte, bool) { panic("application bug") }

// A panic in application code closes that session only.
func TestHandlerPanicClosesSession(t *testing.T) {
	rec := newRecorder()
	srv, ts := newTestServer(t, Config{}, panicky{rec})
	conn := dialWS(t, ts.URL, "")
	readText(t, conn)
	_ = wsutil.WriteClientText(conn, []byte("4boom"))
	if reason := rec.waitClose(t); reason != ReasonHandlerError {
		t.Fatalf("reason %q", reason)
	}
	sid := handshake(t, ts.URL)
	if code := post(t, ts.URL, sid, "4boom"); code != 400 {
		t.Fatalf("POST status %d", code)
	}
	rec.waitClose(t)
	if srv.Stats().Errors.Load() < 2 {
		t.Fatal("panics not counted")
	}
	// The server still works.
	handshake(t, ts.URL)
}

// The soft bound applies to any transport: on long-polling, a volatile
// message is dropped (and counted) once VolatileBufferedBytes are waiting
// for the next GET; other messages still queue.
func TestVolatileDroppedPastSoftBound(t *testing.T) {
	big := strings.Repeat("b", 2000)
	for _, tc := range []struct {
		name    string
		queued  string // queued before the volatile message
		dropped bool
	}{
		{"nothing queued", "", false},
		{"under the bound", "small", false},
		{"at the bound", big[:1023], true},
		{"over the bound", big, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder()
			opened := make(chan *Session, 1)
			srv, ts := newTestServer(t, Config{VolatileBufferedBytes: 1024, PingInterval: time.Minute}, &openSpy{recorder: rec, opened: opened})
			sid := handshake(t, ts.URL)
			s := <-opened
			want := ""
			if tc.queued != "" {
				if err := s.Send(NewTextMessage([]byte(tc.queued))); err != nil {
					t.Fatal(err)
				}
				want = "4" + tc.queued
			}
			var wantErr error
			if tc.dropped {
				wantErr = ErrVolatileDropped
			}
			if err := s.Send(&Message{Type: PacketMessage, Data: []byte("count"), Volatile: true}); err != wantErr {
				t.Fatalf("volatile send: %v, want %v", err, wantErr)
			}
			if err := s.Send(NewTextMessage([]byte("chat"))); err != nil {
				t.Fatal(err)
			}
			if !tc.dropped {
				want = strings.TrimPrefix(want+"\x1e4count", "\x1e")
			}
			want = strings.TrimPrefix(want+"\x1e4chat", "\x1e")
			if code, body := poll(t, ts.URL, sid); code != 200 || body != want {
				t.Fatalf("poll: %d %.40q, want %.40q", code, body, want)
			}
			var n int64
			if tc.dropped {
				n = 1
			}
			if got := srv.stats.VolatileDropped.Load(); got != n {
				t.Fatalf("volatile dropped %d, want %d", got, n)
			}
		})
	}
}

// orderSpy records the handler calls of every session, in order.
type orderSpy struct {
	mu      sync.Mutex
	calls   []string
	onOpen  func(s *Session)
	opening atomic.Bool
}

func (o *orderSpy) record(c string) {
	o.mu.Lock()
	o.calls = append(o.calls, c)
	o.mu.Unlock()
}

func (o *orderSpy) OnOpen(s *Session) {
	o.opening.Store(true)
	o.record("open")
	if o.onOpen != nil {
		o.onOpen(s)
	}
	o.opening.Store(false)
}

func (o *orderSpy) OnMessage(*Session, []byte, bool) {}

func (o *orderSpy) OnClose(_ *Session, reason string) {
	if o.opening.Load() {
		o.record("close during open")
		return
	}
	o.record("close: " + reason)
}

func (o *orderSpy) got() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return strings.Join(o.calls, ", ")
}

// The handler sees OnOpen before OnClose, each once, whenever the close
// comes: never for a session closed before it began (shutdown racing an
// open), after OnOpen returned for one closed while OnOpen ran.
func TestHandlerCallOrderAroundOpen(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/?EIO=4&transport=websocket", nil)
	tests := []struct {
		name   string
		before bool             // close before begin
		during func(s *Session) // OnOpen does this
		want   string
	}{
		{name: "closed before begin", before: true, want: ""},
		{name: "closed while opening", during: func(s *Session) { s.Close() }, want: "open, close: " + ReasonServerClose},
		{name: "closed after opening", want: "open, close: " + ReasonServerClose},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spy := &orderSpy{onOpen: tt.during}
			srv := NewServer(Config{PingInterval: time.Minute}, spy)
			t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
			s, _ := srv.newSession(r, transportWebSocket)
			if tt.before {
				s.Close()
			}
			srv.begin(s)
			s.Close()
			s.Close()
			if got := spy.got(); got != tt.want {
				t.Fatalf("calls %q, want %q", got, tt.want)
			}
			if got := srv.Stats().Sessions.Load(); got != 0 {
				t.Fatalf("%d sessions left", got)
			}
		})
	}
}
