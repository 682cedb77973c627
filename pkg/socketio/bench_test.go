package socketio

import (
	"context"
	"io"
	"net"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"realtime/pkg/engineio"
)

// connectWS opens a WebSocket session and joins namespace "/", reading the
// open packet and the CONNECT reply.
func connectWS(b *testing.B, addr string) net.Conn {
	conn, br, _, err := ws.Dial(context.Background(), "ws://"+addr+"/socket.io/?EIO=4&transport=websocket")
	if err != nil {
		b.Fatal(err)
	}
	rw := readWriter{Reader: conn, Writer: conn}
	if br != nil {
		rw.Reader = br
	}
	if _, _, err := wsutil.ReadServerData(rw); err != nil { // open
		b.Fatal(err)
	}
	if err := wsutil.WriteClientText(conn, []byte("40")); err != nil {
		b.Fatal(err)
	}
	data, _, err := wsutil.ReadServerData(rw)
	if err != nil || !strings.HasPrefix(string(data), "40{") {
		b.Fatalf("connect: %q %v", data, err)
	}
	return conn
}

type readWriter struct {
	io.Reader
	io.Writer
}

// BenchmarkConnect measures a full WebSocket handshake plus Socket.IO
// CONNECT, client and server in this process.
func BenchmarkConnect(b *testing.B) {
	srv := NewServer(Config{Config: engineio.Config{PingInterval: time.Hour}})
	ts := httptest.NewServer(srv)
	defer ts.Close()
	addr := strings.TrimPrefix(ts.URL, "http://")
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		connectWS(b, addr).Close()
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "connects/s")
}

// BenchmarkIdleConnectionMemory reports the heap and stack growth per idle
// connection (joined to a room). Client sockets live in the same process,
// so the figure is an upper bound of the server's share.
func BenchmarkIdleConnectionMemory(b *testing.B) {
	const n = 2000
	srv := NewServer(Config{Config: engineio.Config{PingInterval: time.Hour}})
	srv.Of("/").OnConnect(func(s *Socket) { s.Join("video:1") })
	ts := httptest.NewServer(srv)
	defer ts.Close()
	addr := strings.TrimPrefix(ts.URL, "http://")
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		conns := make([]net.Conn, 0, n)
		for range n {
			conns = append(conns, connectWS(b, addr))
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perConn := float64(after.HeapInuse+after.StackInuse-before.HeapInuse-before.StackInuse) / n
		b.ReportMetric(perConn, "B/conn")
		b.ReportMetric(float64(srv.Of("/").RoomLen("video:1")), "joined")
		for _, c := range conns {
			c.Close()
		}
		// The next iteration's baseline must not include sessions that the
		// server has not torn down yet (freeing them would shrink its delta).
		for srv.Stats().Sessions.Load() != 0 {
			time.Sleep(10 * time.Millisecond)
		}
	}
}
