package sio

import (
	"bytes"
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

// fakeServer speaks just enough Socket.IO: open, CONNECT (refused without a
// token), an ack for every join, a ping right after the join, a broadcast of
// every chat:message to the joined connections, and a 100 KB event after a
// join to exercise frames split over reads.
type fakeServer struct {
	mu     sync.Mutex
	joined []net.Conn
	pongs  atomic.Int32
}

func (f *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("transport") != "websocket" || r.URL.Query().Get("EIO") != "4" {
		http.Error(w, "bad query", http.StatusBadRequest)
		return
	}
	conn, _, _, err := ws.UpgradeHTTP(r, w)
	if err != nil {
		return
	}
	defer conn.Close()
	var wmu sync.Mutex
	send := func(s string) {
		wmu.Lock()
		defer wmu.Unlock()
		_ = wsutil.WriteServerText(conn, []byte(s))
	}
	send(`0{"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`)
	for {
		msg, err := wsutil.ReadClientText(conn)
		if err != nil {
			return
		}
		m := string(msg)
		switch {
		case m == "3":
			f.pongs.Add(1)
		case m == "40":
			send(`44{"message":"authentication required"}`)
		case strings.HasPrefix(m, `40{"token":`):
			send(`40{"sid":"s1"}`)
		case strings.HasPrefix(m, `421["chat:join"`):
			send(`431[{"ok":true}]`)
			f.mu.Lock()
			f.joined = append(f.joined, conn)
			f.mu.Unlock()
			send("2")
			send(`42["big","` + strings.Repeat("x", 100_000) + `"]`)
		case strings.HasPrefix(m, `42["chat:message",`):
			out := []byte(`42["chat:message",` + m[len(`42["chat:message",`):])
			f.mu.Lock()
			for _, c := range f.joined {
				_ = wsutil.WriteServerText(c, out) // single writer in this test
			}
			f.mu.Unlock()
		}
	}
}

type recorder struct {
	mu      sync.Mutex
	ready   []*Conn
	failed  []string
	events  map[string]int
	bigLens []int
	closed  int
}

func (r *recorder) Ready(c *Conn, _ int, _ time.Duration) {
	r.mu.Lock()
	r.ready = append(r.ready, c)
	r.mu.Unlock()
}
func (r *recorder) Failed(_ *Conn, _ int, stage string, err error) {
	r.mu.Lock()
	r.failed = append(r.failed, stage+": "+err.Error())
	r.mu.Unlock()
}
func (r *recorder) Event(_ *Conn, _ int, name, args []byte) {
	r.mu.Lock()
	r.events[string(name)]++
	if string(name) == "big" {
		r.bigLens = append(r.bigLens, len(args))
	}
	r.mu.Unlock()
}
func (r *recorder) Closed(*Conn, int, error) {
	r.mu.Lock()
	r.closed++
	r.mu.Unlock()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestEngineAgainstFakeServer(t *testing.T) {
	srv := httptest.NewServer(&fakeServer{})
	defer srv.Close()
	fake := srv.Config.Handler.(*fakeServer)
	target, err := ParseTarget(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{events: map[string]int{}}
	e, err := New(Config{Loops: 2, HandshakeTimeout: 5 * time.Second}, rec)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()

	const n = 40
	for i := 0; i < n; i++ {
		spec := &Spec{Target: target, Token: "t", JoinEvent: "chat:join", JoinArgs: `{"videoId":"v"}`}
		if i%2 == 0 {
			spec.Local = [4]byte{127, 0, 0, byte(2 + i)}
		}
		if err := e.Dial(&Conn{ID: int32(i)}, spec); err != nil {
			t.Fatal(err)
		}
	}
	// One anonymous connection: refused at CONNECT.
	if err := e.Dial(&Conn{ID: -1}, &Spec{Target: target}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "handshakes", func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return len(rec.ready) == n && len(rec.failed) == 1
	})
	if !strings.HasPrefix(rec.failed[0], "connect: connect refused") {
		t.Fatalf("failure %q", rec.failed[0])
	}
	waitFor(t, "pongs and big events", func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return fake.pongs.Load() == n && rec.events["big"] == n
	})
	for _, l := range rec.bigLens {
		if l != 100_004 { // `,"xxx…"]`
			t.Fatalf("big event args of %d bytes", l)
		}
	}

	pub := rec.ready[0]
	var frame []byte
	for i := 0; i < 10; i++ {
		frame = AppendText(frame[:0], []byte(`42["chat:message",{"videoId":"v","message":"hi"}]`))
		if err := pub.Send(frame); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "deliveries", func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return rec.events["chat:message"] == 10*n
	})
}

func TestSplitEvent(t *testing.T) {
	for _, c := range []struct{ in, name, args string }{
		{`["a",1]`, "a", ",1]"},
		{`12["chat:message",{"x":1}]`, "chat:message", `,{"x":1}]`},
		{`["noargs"]`, "noargs", "]"},
	} {
		name, args, ok := splitEvent([]byte(c.in))
		if !ok || string(name) != c.name || string(args) != c.args {
			t.Errorf("%s → %q %q %v", c.in, name, args, ok)
		}
	}
	if _, _, ok := splitEvent([]byte(`{"a":1}`)); ok {
		t.Error("non-array accepted")
	}
}

func TestAppendTextRoundTrip(t *testing.T) {
	for _, n := range []int{0, 125, 126, 65535, 65536} {
		p := bytes.Repeat([]byte{'a'}, n)
		f := AppendText(nil, p)
		rw := struct {
			io.Reader
			io.Writer
		}{bytes.NewReader(f), io.Discard}
		got, err := wsutil.ReadClientText(rw)
		if err != nil || !bytes.Equal(got, p) {
			t.Fatalf("n=%d: %v", n, err)
		}
	}
}

func TestCheckUpgrade(t *testing.T) {
	key := "dGhlIHNhbXBsZSBub25jZQ=="
	ok := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nsec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
	if err := checkUpgrade([]byte(ok), key); err != nil {
		t.Fatal(err)
	}
	if checkUpgrade([]byte("HTTP/1.1 400 Bad Request\r\n"), key) == nil {
		t.Fatal("400 accepted")
	}
	if checkUpgrade([]byte("HTTP/1.1 101 OK\r\nSec-WebSocket-Accept: nope"), key) == nil {
		t.Fatal("bad accept accepted")
	}
}
