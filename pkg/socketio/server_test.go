package socketio

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"realtime/pkg/engineio"
)

// wsClient speaks raw Socket.IO over a WebSocket, frame by frame.
type wsClient struct {
	t    *testing.T
	conn net.Conn
	r    io.Reader
}

func dial(t *testing.T, ts *httptest.Server) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, br, _, err := ws.Dial(ctx, "ws"+strings.TrimPrefix(ts.URL, "http")+"/socket.io/?EIO=4&transport=websocket")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	c := &wsClient{t: t, conn: conn, r: conn}
	if br != nil {
		c.r = io.MultiReader(br, conn)
	}
	if open := c.read(); !strings.HasPrefix(open, "0{") {
		t.Fatalf("open %q", open)
	}
	return c
}

func (c *wsClient) send(s string) {
	c.t.Helper()
	if err := wsutil.WriteClientText(c.conn, []byte(s)); err != nil {
		c.t.Fatal(err)
	}
}

// read returns the next text frame, skipping pings.
func (c *wsClient) read() string {
	c.t.Helper()
	for {
		data, op, err := wsutil.ReadServerData(struct {
			io.Reader
			io.Writer
		}{c.r, c.conn})
		if err != nil {
			c.t.Fatal(err)
		}
		if op == ws.OpText && string(data) != "2" {
			return string(data)
		}
	}
}

// connect joins the main namespace and returns the socket id.
func (c *wsClient) connect(auth string) string {
	c.t.Helper()
	c.send("40" + auth)
	reply := c.read()
	var ack struct{ Sid string }
	if !strings.HasPrefix(reply, "40") || json.Unmarshal([]byte(reply[2:]), &ack) != nil {
		c.t.Fatalf("connect reply %q", reply)
	}
	return ack.Sid
}

func newServer(t *testing.T) (*Server, *httptest.Server) {
	t.Helper()
	srv := NewServer(Config{Config: engineio.Config{PingInterval: time.Minute}})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return srv, ts
}

func TestMiddlewareRefusal(t *testing.T) {
	srv, ts := newServer(t)
	srv.Of("/").Use(func(s *Socket, auth json.RawMessage) error {
		var a struct{ Token string }
		_ = json.Unmarshal(auth, &a)
		if a.Token != "good" {
			return &ConnectError{Message: "invalid token", Data: map[string]string{"code": "AUTH"}}
		}
		s.SetData(a.Token)
		return nil
	})
	c := dial(t, ts)
	c.send(`40{"token":"bad"}`)
	if got := c.read(); got != `44{"message":"invalid token","data":{"code":"AUTH"}}` {
		t.Fatalf("got %s", got)
	}
	c.connect(`{"token":"good"}`)
}

func TestRoomsAndBroadcast(t *testing.T) {
	srv, ts := newServer(t)
	nsp := srv.Of("/")
	nsp.On("join", func(s *Socket, ev *Event) {
		var room string
		_ = json.Unmarshal(ev.Args[0], &room)
		s.Join(room)
		_ = ev.Ack("joined")
	})
	nsp.On("leave", func(s *Socket, ev *Event) {
		var room string
		_ = json.Unmarshal(ev.Args[0], &room)
		s.Leave(room)
		_ = ev.Ack("left")
	})
	a, b, c := dial(t, ts), dial(t, ts), dial(t, ts)
	aID := a.connect("")
	b.connect("")
	c.connect("")
	for _, cl := range []*wsClient{a, b} {
		cl.send(`421["join","video:1"]`)
		if got := cl.read(); got != `431["joined"]` {
			t.Fatalf("ack %s", got)
		}
	}
	if n := nsp.RoomLen("video:1"); n != 2 {
		t.Fatalf("room has %d sockets", n)
	}
	if err := nsp.To("video:1").Except(aID).Emit("count", map[string]int{"n": 2}); err != nil {
		t.Fatal(err)
	}
	if err := nsp.To("video:1").Emit("all", 1); err != nil {
		t.Fatal(err)
	}
	if got := a.read(); got != `42["all",1]` {
		t.Fatalf("a got %s (except ignored?)", got)
	}
	if got := b.read(); got != `42["count",{"n":2}]` {
		t.Fatalf("b got %s", got)
	}
	if got := b.read(); got != `42["all",1]` {
		t.Fatalf("b got %s", got)
	}
	// c is in no room: the next thing it sees is a direct emit.
	nsp.Socket(aID).Emit("direct")
	_ = nsp.Emit("everyone")
	if got := c.read(); got != `42["everyone"]` {
		t.Fatalf("c got %s", got)
	}
	if got := b.read(); got != `42["everyone"]` {
		t.Fatalf("b got %s", got)
	}
	b.send(`422["leave","video:1"]`)
	if got := b.read(); got != `432["left"]` {
		t.Fatalf("leave ack %s", got)
	}
	if n := nsp.RoomLen("video:1"); n != 1 {
		t.Fatalf("room has %d sockets after leave", n)
	}
	a.conn.Close()
	waitFor(t, func() bool { return nsp.RoomLen("video:1") == 0 })
}

func TestServerAckAndDisconnect(t *testing.T) {
	srv, ts := newServer(t)
	nsp := srv.Of("/")
	got := make(chan string, 2)
	disconnected := make(chan string, 1)
	nsp.OnConnect(func(s *Socket) {
		_ = s.EmitWithAck("question", func(resp *Event, err error) {
			if err != nil {
				got <- "error: " + err.Error()
				return
			}
			got <- string(resp.Args[0])
		}, "q")
	})
	nsp.OnDisconnect(func(s *Socket, reason string) { disconnected <- reason })
	c := dial(t, ts)
	c.connect("")
	if q := c.read(); q != `420["question","q"]` {
		t.Fatalf("got %s", q)
	}
	c.send(`430["answer"]`)
	if a := <-got; a != `"answer"` {
		t.Fatalf("ack %s", a)
	}
	c.send("41")
	if reason := <-disconnected; reason != ReasonClientDisconnect {
		t.Fatalf("reason %q", reason)
	}
	if nsp.Len() != 0 {
		t.Fatal("socket still in namespace")
	}
}

func TestPendingAckFailsOnDisconnect(t *testing.T) {
	srv, ts := newServer(t)
	nsp := srv.Of("/")
	got := make(chan error, 1)
	nsp.OnConnect(func(s *Socket) {
		_ = s.EmitWithAck("question", func(_ *Event, err error) { got <- err })
	})
	c := dial(t, ts)
	c.connect("")
	c.read()
	c.conn.Close()
	select {
	case err := <-got:
		if !errors.Is(err, ErrDisconnected) {
			t.Fatalf("err %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ack callback never called")
	}
}

func TestUnknownEventAndInvalidPacket(t *testing.T) {
	srv, ts := newServer(t)
	srv.Of("/").OnUnknown(func(s *Socket, ev *Event) {
		_ = ev.Ack(map[string]string{"error": "unknown event: " + ev.Name})
	})
	c := dial(t, ts)
	c.connect("")
	c.send(`425["nope",1]`)
	if got := c.read(); got != `435[{"error":"unknown event: nope"}]` {
		t.Fatalf("got %s", got)
	}
	c.send(`42{}`)
	for {
		f, err := ws.ReadFrame(c.r)
		if err != nil {
			return // connection closed: expected
		}
		if f.Header.OpCode == ws.OpClose {
			return
		}
	}
}

func TestConnectTimeout(t *testing.T) {
	srv := NewServer(Config{Config: engineio.Config{PingInterval: time.Minute}, ConnectTimeout: 50 * time.Millisecond})
	ts := httptest.NewServer(srv)
	defer ts.Close()
	c := dial(t, ts)
	for {
		f, err := ws.ReadFrame(c.r)
		if err != nil || f.Header.OpCode == ws.OpClose {
			break
		}
	}
	waitFor(t, func() bool { return srv.Stats().Sessions.Load() == 0 })
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

// A binary event is handled once all its attachments arrived, in order; a
// binary frame nobody announced closes the connection.
func TestBinaryEventReassembly(t *testing.T) {
	srv, ts := newServer(t)
	got := make(chan *Event, 1)
	srv.Of("/").On("upload", func(s *Socket, ev *Event) {
		got <- ev
		_ = ev.Ack("stored")
	})
	c := dial(t, ts)
	c.connect("")
	c.send(`452-7["upload",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`)
	for _, b := range []string{"first", "second"} {
		if err := wsutil.WriteClientBinary(c.conn, []byte(b)); err != nil {
			t.Fatal(err)
		}
	}
	ev := <-got
	if len(ev.Attachments) != 2 || string(ev.Attachments[0]) != "first" || string(ev.Attachments[1]) != "second" {
		t.Fatalf("attachments %q", ev.Attachments)
	}
	if reply := c.read(); reply != `437["stored"]` {
		t.Fatalf("ack %q", reply)
	}

	stray := dial(t, ts)
	stray.connect("")
	if err := wsutil.WriteClientBinary(stray.conn, []byte("nobody asked")); err != nil {
		t.Fatal(err)
	}
	for {
		_, _, err := wsutil.ReadServerData(stray.conn)
		if err == nil {
			continue
		}
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatal("the connection is still open after a stray binary frame")
		}
		break // closed by the server
	}
}
