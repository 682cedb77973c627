//go:build linux

package engineio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// dialTight opens a direct WebSocket session over TCP with small socket
// buffers on both ends (client receive, server send), so that the kernel
// stops taking data after a few KiB when the client does not read. It
// returns the client's connection, past the open packet, and the session.
func dialTight(t *testing.T, base string, opened <-chan *Session) (net.Conn, *Session) {
	t.Helper()
	d := ws.Dialer{NetDial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		nd := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
			var serr error
			if err := c.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
			}); err != nil {
				return err
			}
			return serr
		}}
		return nd.DialContext(ctx, network, addr)
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, br, _, err := d.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/?EIO=4&transport=websocket")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if br != nil {
		conn = &bufferedConn{Conn: conn, r: io.MultiReader(br, conn)}
	}
	s := <-opened
	setSendBuffer(t, s, 4096)
	if got := readText(t, conn); got[0] != byte(PacketOpen) {
		t.Fatalf("first packet %q", got)
	}
	return conn, s
}

// sessionFD returns the descriptor the session took from Go.
func sessionFD(t *testing.T, s *Session) *sockFD {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.hasFD {
		t.Fatal("the session holds no descriptor of its own")
	}
	return &s.fd
}

// setSendBuffer sets the session's socket send buffer.
func setSendBuffer(t *testing.T, s *Session, size int) {
	t.Helper()
	err := sessionFD(t, s).control(func(fd int) error {
		return syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_SNDBUF, size)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func queuedBytes(s *Session) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queuedBytes
}

// A client that never reads: volatile messages are dropped once the soft
// bound is reached, others still queue, the queue never exceeds
// MaxBufferedBytes and the session is closed as a slow consumer when full.
func TestStuckClientQueueIsBounded(t *testing.T) {
	cfg := Config{MaxBufferedBytes: 256 << 10, VolatileBufferedBytes: 32 << 10, WriteTimeout: time.Minute}
	rec := newRecorder()
	rec.noEcho = true
	opened := make(chan *Session, 1)
	srv, ts := newTestServer(t, cfg, &openSpy{recorder: rec, opened: opened})
	client, s := dialTight(t, ts.URL, opened)
	fd := sessionFD(t, s)

	payload := bytes.Repeat([]byte("v"), 1000)
	volatileMsg := &Message{Type: PacketMessage, Data: payload, Volatile: true}
	// Fill the kernel's buffers: once the kernel takes no more, the
	// session waits for its descriptor to be writable, and the queue only
	// grows with what is sent.
	fill(t, s, payload)
	if q := queuedBytes(s); q >= cfg.VolatileBufferedBytes {
		t.Fatalf("%d bytes queued before sending any volatile message", q)
	}
	for i := 0; srv.stats.VolatileDropped.Load() == 0; i++ {
		if i > 100_000 {
			t.Fatal("no volatile message dropped")
		}
		before := queuedBytes(s)
		if err := s.Send(volatileMsg); err != nil && !errors.Is(err, ErrVolatileDropped) {
			t.Fatal(err)
		}
		if srv.stats.VolatileDropped.Load() > 0 && before < cfg.VolatileBufferedBytes {
			t.Fatalf("volatile message dropped with %d bytes queued", before)
		}
	}
	q := queuedBytes(s)
	if q < cfg.VolatileBufferedBytes || q > cfg.MaxBufferedBytes {
		t.Fatalf("queued %d bytes at the first drop", q)
	}
	if err := s.Send(volatileMsg); !errors.Is(err, ErrVolatileDropped) || queuedBytes(s) != q || srv.stats.VolatileDropped.Load() != 2 {
		t.Fatalf("second volatile: err %v, queued %d→%d, dropped %d", err, q, queuedBytes(s), srv.stats.VolatileDropped.Load())
	}
	if err := s.Send(NewTextMessage(payload)); err != nil || queuedBytes(s) <= q {
		t.Fatalf("non-volatile message not queued past the soft bound: err %v, queued %d→%d", err, q, queuedBytes(s))
	}
	var err error
	for i := 0; err == nil; i++ {
		if i > 100_000 {
			t.Fatal("never closed")
		}
		err = s.Send(NewTextMessage(payload))
		if q := queuedBytes(s); q > cfg.MaxBufferedBytes {
			t.Fatalf("%d bytes queued, over MaxBufferedBytes", q)
		}
	}
	if err != ErrSlowConsumer {
		t.Fatalf("send err = %v", err)
	}
	if reason := rec.waitClose(t); reason != ReasonSlowConsumer {
		t.Fatalf("reason %q", reason)
	}
	if n := srv.stats.SlowConsumers.Load(); n != 1 {
		t.Fatalf("slow consumers %d", n)
	}
	// The connection is cut at once, not after WriteTimeout (a minute
	// here): a session waiting on a client that never reads must not keep
	// its socket and buffers that long. The client still does not read.
	// (Released at once, unless the poller happens to be in a read.)
	waitFor(t, fd.released)
	_ = client
}

// A message sent to a stuck client and a reading one: the reading one gets
// every message, in order, and the sender is never held up by the stuck one
// (which ends up closed as a slow consumer).
func TestStuckClientDoesNotHoldUpOthers(t *testing.T) {
	cfg := Config{MaxBufferedBytes: 128 << 10, WriteTimeout: time.Minute}
	rec := newRecorder()
	rec.noEcho = true
	opened := make(chan *Session, 2)
	srv, ts := newTestServer(t, cfg, &openSpy{recorder: rec, opened: opened})
	_, stuck := dialTight(t, ts.URL, opened)
	reader := dialWS(t, ts.URL, "")
	readText(t, reader)
	reading := <-opened

	const count = 2000
	pad := strings.Repeat("p", 500)
	text := func(i int) string { return fmt.Sprintf("%d:%s", i, pad) }
	got := make(chan error, 1)
	go func() {
		for i := range count {
			data, op, err := wsutil.ReadServerData(reader)
			if err != nil {
				got <- err
				return
			}
			if want := "4" + text(i); op != ws.OpText || string(data) != want {
				got <- fmt.Errorf("message %d: %.20q, want %.20q", i, data, want)
				return
			}
		}
		got <- nil
	}()
	for i := range count {
		m := NewTextMessage([]byte(text(i)))
		_ = stuck.Send(m)
		// Pace the sender on the reading client only (whose writes are
		// asynchronous too), so that it stays within its own bound.
		for queuedBytes(reading) > cfg.MaxBufferedBytes/2 {
			runtime.Gosched()
		}
		if err := reading.Send(m); err != nil {
			t.Fatalf("send %d to the reading client: %v", i, err)
		}
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if reason := rec.waitClose(t); reason != ReasonSlowConsumer {
		t.Fatalf("reason %q", reason)
	}
	if n := srv.stats.SlowConsumers.Load(); n != 1 {
		t.Fatalf("slow consumers %d", n)
	}
}

// Frames the kernel takes only in part are continued from the right byte:
// a client that reads nothing until everything is sent then decodes every
// frame whole and in order.
func TestPartialWritesKeepFramesWhole(t *testing.T) {
	sizes := []int{10, 1000, 70_000, 3, 130_000, 500, 65_535, 126, 20_000}
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"coalesced", Config{}},
		{"one write per frame", Config{NoWriteCoalescing: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.MaxBufferedBytes, cfg.WriteTimeout = 16<<20, time.Minute
			rec := newRecorder()
			rec.noEcho = true
			opened := make(chan *Session, 1)
			_, ts := newTestServer(t, cfg, &openSpy{recorder: rec, opened: opened})
			conn, s := dialTight(t, ts.URL, opened)

			const count = 60
			want := make([][]byte, count)
			for i := range count {
				data := append([]byte(fmt.Sprintf("%d:", i)), bytes.Repeat([]byte{byte('a' + i%26)}, sizes[i%len(sizes)])...)
				m := NewTextMessage(data)
				want[i] = append([]byte{'4'}, data...)
				if i%7 == 3 {
					m = NewBinaryMessage(data)
					want[i] = data
				}
				if i%5 == 0 {
					// Several messages at once: one vectored write.
					more := NewTextMessage([]byte("extra"))
					if err := s.SendBatch(m, more); err != nil {
						t.Fatal(err)
					}
					want[i] = append(want[i], 0) // marker: followed by "4extra"
					continue
				}
				if err := s.Send(m); err != nil {
					t.Fatal(err)
				}
			}
			// The kernel cannot hold it all: the session waits for
			// writability, then its flusher continues where it stopped.
			waitFor(t, func() bool {
				s.mu.Lock()
				defer s.mu.Unlock()
				return s.writing
			})
			for i := range count {
				data, _, err := wsutil.ReadServerData(conn)
				if err != nil {
					t.Fatalf("message %d: %v", i, err)
				}
				w := want[i]
				extra := len(w) > 0 && w[len(w)-1] == 0 && i%5 == 0
				if extra {
					w = w[:len(w)-1]
				}
				if !bytes.Equal(data, w) {
					t.Fatalf("message %d: %d bytes %.20q, want %d bytes %.20q", i, len(data), data, len(w), w)
				}
				if extra {
					if data, _, err := wsutil.ReadServerData(conn); err != nil || string(data) != "4extra" {
						t.Fatalf("after message %d: %q %v", i, data, err)
					}
				}
			}
			rec.mu.Lock()
			reason := rec.closed[s.ID()]
			rec.mu.Unlock()
			if reason != "" {
				t.Fatalf("closed: %s", reason)
			}
		})
	}
}
