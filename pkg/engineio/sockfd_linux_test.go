//go:build linux

package engineio

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws/wsutil"
	"golang.org/x/sys/unix"
)

// socketPair returns a sockFD on one end of a Unix stream socket pair and
// the other end's descriptor, closed at the end of the test.
func socketPair(t *testing.T, nonblock bool) (*sockFD, int) {
	t.Helper()
	typ := unix.SOCK_STREAM | unix.SOCK_CLOEXEC
	if nonblock {
		typ |= unix.SOCK_NONBLOCK
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, typ, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Close(fds[1]) })
	return &sockFD{fd: int32(fds[0])}, fds[1]
}

// inode returns the inode of what fd names, or 0 when fd is not open.
func inode(fd int) uint64 {
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil {
		return 0
	}
	return st.Ino
}

// Close while a read is in the kernel leaves the descriptor open until the
// read returns; the number is closed by the reader, and only then.
func TestSockFDCloseWaitsForSyscall(t *testing.T) {
	f, peer := socketPair(t, false) // blocking: the read stays in the kernel
	ino := inode(int(f.fd))
	got := make(chan error, 1)
	go func() {
		var b [16]byte
		_, err := f.Read(b[:])
		got <- err
	}()
	waitFor(t, func() bool { return f.state.Load() >= 2 }) // the reader holds a reference
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != net.ErrClosed {
		t.Fatalf("second close: %v", err)
	}
	if f.released() || inode(int(f.fd)) != ino {
		t.Fatal("descriptor closed while a read on it runs")
	}
	if _, err := f.Write([]byte("x")); err != net.ErrClosed {
		t.Fatalf("write after close: %v", err)
	}
	if _, err := unix.Write(peer, []byte("wake")); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatalf("read: %v", err)
	}
	if !f.released() || inode(int(f.fd)) == ino {
		t.Fatal("descriptor not closed by the last reference")
	}
	if _, err := f.Read(make([]byte, 1)); err != net.ErrClosed {
		t.Fatalf("read after close: %v", err)
	}
}

// Reads, writes and epoll changes racing with Close: every call either
// runs on the open descriptor or reports net.ErrClosed, and the number is
// closed exactly once, after the last call (race detector).
func TestSockFDConcurrentClose(t *testing.T) {
	for range 20 {
		f, peer := socketPair(t, true)
		ino := inode(int(f.fd))
		epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		op := func(fn func() error) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for {
					if err := fn(); err == net.ErrClosed {
						return
					}
				}
			}()
		}
		buf := make([]byte, 64)
		op(func() error { _, err := f.Read(buf); return err })
		op(func() error { _, err := f.Writev([][]byte{[]byte("a"), []byte("b")}); return err })
		op(func() error {
			ev := unix.EpollEvent{Events: unix.EPOLLIN}
			if err := f.epollCtl(epfd, unix.EPOLL_CTL_ADD, &ev); err == net.ErrClosed {
				return err
			}
			return f.epollCtl(epfd, unix.EPOLL_CTL_DEL, nil)
		})
		go func() { // keep the peer's side drained and fed
			var b [4096]byte
			for {
				if _, err := unix.Read(peer, b[:]); err != nil && err != unix.EAGAIN {
					return
				}
				if _, err := unix.Write(peer, b[:8]); err != nil && err != unix.EAGAIN {
					return
				}
				if f.released() {
					return
				}
			}
		}()
		close(start)
		runtime.Gosched()
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		if !f.released() {
			t.Fatal("descriptor not closed once every call returned")
		}
		if inode(int(f.fd)) == ino {
			t.Fatal("descriptor still open")
		}
		_ = unix.Close(epfd)
	}
}

// openFDs counts the process's open descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd:", err)
	}
	return len(ents)
}

// Sessions opened on WebSocket, directly or by upgrade, and closed from
// either side give back every descriptor: Go's (closed when the descriptor
// is taken) and ours.
func TestWebSocketDescriptorsReleased(t *testing.T) {
	rec := newRecorder()
	rec.closes = make(chan string, 64)
	opened := make(chan *Session, 64)
	srv, ts := newTestServer(t, Config{}, &openSpy{recorder: rec, opened: opened})
	warm := dialWS(t, ts.URL, "") // starts the pollers and the write waiter
	readText(t, warm)
	<-opened
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	before := openFDs(t)

	const cycles = 20
	var fds []*sockFD
	for i := range cycles {
		conn := dialWS(t, ts.URL, "")
		readText(t, conn)
		s := <-opened
		fds = append(fds, sessionFD(t, s))
		_ = wsutil.WriteClientText(conn, []byte("4hi"))
		if got := readText(t, conn); got != "4hi" {
			t.Fatalf("echo %q", got)
		}
		if i%2 == 0 {
			_ = conn.Close() // the client goes
		} else {
			s.Close() // the server closes
			readToEnd(t, conn)
			_ = conn.Close()
		}
		rec.waitClose(t)
	}
	for range cycles / 2 {
		s, conn := upgraded(t, srv, ts.URL, opened)
		fds = append(fds, sessionFD(t, s))
		s.Close()
		readToEnd(t, conn)
		_ = conn.Close()
		rec.waitClose(t)
	}
	for i, f := range fds {
		if !f.released() {
			t.Fatalf("session %d: descriptor not closed", i)
		}
	}
	// handshake and poll use the default client.
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	deadline := time.Now().Add(5 * time.Second)
	for openFDs(t) > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d descriptors open, %d before:\n%s", openFDs(t), before, describeFDs())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// describeFDs lists what the process's descriptors name.
func describeFDs() string {
	ents, _ := os.ReadDir("/proc/self/fd")
	var b strings.Builder
	for _, e := range ents {
		target, _ := os.Readlink("/proc/self/fd/" + e.Name())
		fmt.Fprintf(&b, "%s -> %s\n", e.Name(), target)
	}
	return b.String()
}

// readToEnd reads conn until the server's close frame or the end.
func readToEnd(t *testing.T, conn net.Conn) {
	t.Helper()
	for {
		if _, _, err := wsutil.ReadServerData(conn); err != nil {
			return
		}
	}
}

// upgraded opens a polling session and upgrades it to WebSocket.
func upgraded(t *testing.T, srv *Server, base string, opened <-chan *Session) (*Session, net.Conn) {
	t.Helper()
	sid := handshake(t, base)
	s := <-opened
	conn := dialWS(t, base, "&sid="+sid)
	_ = wsutil.WriteClientText(conn, []byte("2probe"))
	if got := readText(t, conn); got != "3probe" {
		t.Fatalf("probe answer %q", got)
	}
	_ = wsutil.WriteClientText(conn, []byte("5"))
	_ = wsutil.WriteClientText(conn, []byte("4up"))
	if got := readText(t, conn); got != "4up" {
		t.Fatalf("echo over websocket %q", got)
	}
	if s.Transport() != "websocket" {
		t.Fatal("not upgraded")
	}
	return s, conn
}

// fill sends to s until the kernel takes no more and s waits for its
// descriptor to be writable.
func fill(t *testing.T, s *Session, payload []byte) {
	t.Helper()
	for i := 0; ; i++ {
		if i > 100_000 {
			t.Fatal("the kernel never filled up")
		}
		if err := s.Send(NewTextMessage(payload)); err != nil {
			t.Fatal(err)
		}
		waitFor(t, func() bool {
			s.mu.Lock()
			defer s.mu.Unlock()
			return !s.scheduled
		})
		s.mu.Lock()
		full := s.writing
		s.mu.Unlock()
		if full {
			return
		}
	}
}

// A write the kernel takes only in part resumes when the peer reads, with
// no goroutine per waiting session in between.
func TestShortWriteResumesWhenPeerReads(t *testing.T) {
	rec := newRecorder()
	rec.noEcho = true
	opened := make(chan *Session, 1)
	_, ts := newTestServer(t, Config{WriteTimeout: time.Minute, MaxBufferedBytes: 16 << 20}, &openSpy{recorder: rec, opened: opened})
	conn, s := dialTight(t, ts.URL, opened)
	payload := bytes.Repeat([]byte("r"), 3000)
	fill(t, s, payload)
	for range 20 { // more behind the blocked one
		if err := s.Send(NewTextMessage(payload)); err != nil {
			t.Fatal(err)
		}
	}
	// Read everything: the waiter must hand the session back to its
	// flusher every time the kernel makes room.
	got := 0
	for {
		data, _, err := wsutil.ReadServerData(conn)
		if err != nil {
			t.Fatalf("after %d messages: %v", got, err)
		}
		if !bytes.Equal(data[1:], payload) {
			t.Fatalf("message %d: %.20q", got, data)
		}
		got++
		s.mu.Lock()
		idle := !s.writing && !s.scheduled && len(s.queue) == 0
		s.mu.Unlock()
		if idle && got > 20 {
			break
		}
	}
	if err := s.Send(NewTextMessage([]byte("last"))); err != nil {
		t.Fatal(err)
	}
	// What was still in the kernel's buffers arrives before "last".
	for {
		data, _, err := wsutil.ReadServerData(conn)
		if err != nil {
			t.Fatal(err)
		}
		if string(data) == "4last" {
			break
		}
		if !bytes.Equal(data[1:], payload) {
			t.Fatalf("message %d: %.20q", got, data)
		}
	}
	rec.mu.Lock()
	reason := rec.closed[s.ID()]
	rec.mu.Unlock()
	if reason != "" {
		t.Fatalf("closed: %s", reason)
	}
}

// timedRecorder records when each session closes.
type timedRecorder struct {
	*openSpy
	mu     sync.Mutex
	closed map[*Session]time.Time
}

func (r *timedRecorder) OnClose(s *Session, reason string) {
	r.mu.Lock()
	r.closed[s] = time.Now()
	r.mu.Unlock()
	r.openSpy.OnClose(s, reason)
}

// Peers that never read are closed once they have kept us from writing for
// WriteTimeout, and not before; meanwhile no goroutine waits for any of
// them.
func TestNeverReadingPeersClosedAfterWriteTimeout(t *testing.T) {
	const (
		n       = 12
		timeout = 400 * time.Millisecond
	)
	rec := newRecorder()
	rec.noEcho = true
	rec.closes = make(chan string, n)
	h := &timedRecorder{openSpy: &openSpy{recorder: rec, opened: make(chan *Session, n)}, closed: map[*Session]time.Time{}}
	srv, ts := newTestServer(t, Config{WriteTimeout: timeout, MaxBufferedBytes: 16 << 20}, h)
	warm := dialWS(t, ts.URL, "") // starts the pollers and the write waiter
	readText(t, warm)
	<-h.opened
	before := runtime.NumGoroutine()

	payload := bytes.Repeat([]byte("n"), 2000)
	sessions := make([]*Session, n)
	fds := make([]*sockFD, n)
	blocked := make([]time.Time, n)
	for i := range sessions {
		_, sessions[i] = dialTight(t, ts.URL, h.opened)
		fds[i] = sessionFD(t, sessions[i])
		fill(t, sessions[i], payload)
		blocked[i] = time.Now()
	}
	if g := runtime.NumGoroutine(); g >= before+n/2 {
		t.Fatalf("%d goroutines with %d sessions waiting, %d before", g, n, before)
	}
	for range n {
		if reason := rec.waitClose(t); reason != ReasonTransportError {
			t.Fatalf("reason %q", reason)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, s := range sessions {
		// The wait began a little before fill saw it; allow for that.
		if d := h.closed[s].Sub(blocked[i]); d < timeout-50*time.Millisecond {
			t.Fatalf("session %d closed %v after blocking, WriteTimeout is %v", i, d, timeout)
		}
		if !fds[i].released() {
			t.Fatalf("session %d: descriptor not closed", i)
		}
	}
	if got := srv.stats.Errors.Load(); got < n {
		t.Fatalf("%d errors counted", got)
	}
}

// Sessions closed by either side while the poller reads them, the flusher
// writes them and others send to them: every one ends, with its descriptor
// closed once (race detector).
func TestCloseDuringTraffic(t *testing.T) {
	const n = 8
	rec := newRecorder()
	rec.closes = make(chan string, n)
	opened := make(chan *Session, n)
	_, ts := newTestServer(t, Config{}, &openSpy{recorder: rec, opened: opened})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	fds := make([]*sockFD, n)
	sessions := make([]*Session, n)
	conns := make([]net.Conn, n)
	for i := range n {
		conns[i] = dialWS(t, ts.URL, "")
		readText(t, conns[i])
		sessions[i] = <-opened
		fds[i] = sessionFD(t, sessions[i])
		conn, s := conns[i], sessions[i]
		wg.Add(3)
		go func() { // the client sends (echoed back by the handler)
			defer wg.Done()
			for wsutil.WriteClientText(conn, []byte("4ping")) == nil {
			}
		}()
		go func() { // the client reads
			defer wg.Done()
			for {
				if _, _, err := wsutil.ReadServerData(conn); err != nil {
					return
				}
			}
		}()
		go func() { // the application sends
			defer wg.Done()
			m := NewTextMessage([]byte("news"))
			for {
				select {
				case <-stop:
					return
				default:
				}
				if s.Send(m) == ErrSessionClosed {
					return
				}
			}
		}()
	}
	for i := range n {
		if i%2 == 0 {
			sessions[i].Close()
		} else {
			_ = conns[i].Close()
		}
	}
	for range n {
		rec.waitClose(t)
	}
	for _, c := range conns {
		_ = c.Close() // ends the client goroutines of server-closed sessions
	}
	close(stop)
	wg.Wait()
	for _, f := range fds {
		waitFor(t, f.released)
	}
}
