package socketio

import (
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"realtime/pkg/engineio"
)

// A broadcast to a client that never reads and one that does: the
// broadcasting call is never held up by the stuck client, which is closed
// as a slow consumer once its bounded queue is full, and the reading
// client gets every event, in order.
func TestBroadcastPastAStuckClient(t *testing.T) {
	srv := NewServer(Config{Config: engineio.Config{
		PingInterval: time.Minute, MaxBufferedBytes: 128 << 10, WriteTimeout: time.Minute,
	}})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	nsp := srv.Of("/")
	gone := make(chan string, 2)
	nsp.OnDisconnect(func(_ *Socket, reason string) { gone <- reason })

	stuck, reader := dial(t, ts), dial(t, ts)
	stuck.connect("")
	reader.connect("")
	_ = reader.conn.SetDeadline(time.Now().Add(time.Minute))

	progress := make(chan error, 64)
	go func() {
		rw := struct {
			io.Reader
			io.Writer
		}{reader.r, reader.conn}
		for i := 0; ; i++ {
			data, op, err := wsutil.ReadServerData(rw)
			if err != nil {
				progress <- err
				return
			}
			if want := fmt.Sprintf(`42["n",%d,"%s"]`, i, pad); op != ws.OpText || string(data) != want {
				progress <- fmt.Errorf("event %d: %.30q", i, data)
				return
			}
			progress <- nil
		}
	}()
	// Emit until the stuck client is dropped: the kernel's buffers hold a
	// few MiB before its queue starts to grow. The reading client is
	// waited for every 64 events, so that its own queue stays small.
	sent := 0
	for stuckOpen := true; stuckOpen; {
		if sent > 100_000 {
			t.Fatal("the stuck client was never dropped")
		}
		for range 64 {
			if err := nsp.Emit("n", sent, pad); err != nil {
				t.Fatal(err)
			}
			sent++
		}
		for range 64 {
			if err := <-progress; err != nil {
				t.Fatal(err)
			}
		}
		select {
		case reason := <-gone:
			stuckOpen = false
			t.Logf("stuck client dropped after %d events (%s)", sent, reason)
		default:
		}
	}
	if n := srv.Stats().SlowConsumers.Load(); n != 1 {
		t.Fatalf("slow consumers %d", n)
	}
	if n := nsp.Len(); n != 1 {
		t.Fatalf("%d sockets left, want the reading one", n)
	}
}

var pad = strings.Repeat("0123456789abcdef", 64) // 1 KiB per event
