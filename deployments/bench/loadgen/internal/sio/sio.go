// Package sio is a lean Socket.IO v5 (Engine.IO v4) client, WebSocket
// transport only, built to hold tens of thousands of connections per process
// and to receive hundreds of thousands of events per second per core.
//
// Why this design. A connection here is a non-blocking socket registered in
// one of a few epoll instances (golang.org/x/sys/unix); each epoll has one
// goroutine (an event loop) that reads whatever is ready into one 64 KiB
// buffer that the loop owns, parses WebSocket frames in place and hands each
// Socket.IO event to the Handler. A connection therefore costs a ~200-byte
// Conn struct and a file descriptor, and nothing else while it is idle: no
// goroutine (≥ 8 KiB of stack each with net.Conn and a blocking read), no
// bufio.Reader (4 KiB each with gobwas/ws' Dialer), no timer. The dial is part
// of the same state machine (non-blocking connect, then the HTTP upgrade,
// Engine.IO open, Socket.IO CONNECT with the token, the room join and its
// ack), so opening 20,000 connections/s needs no goroutine per dial either.
// Bytes that stay after a read (a frame cut in two) are the only per-connection
// buffer, freed once consumed. gobwas/ws provides the frame constants and the
// masking; frame reading is hand-rolled because gobwas' readers expect a
// blocking io.Reader.
//
// The alternative the issue allows, gobwas/ws with a small pool of reader
// goroutines polling net.Conn with read deadlines, spends a syscall and a
// deadline timer per idle connection per poll round and adds latency of up to
// one round: both grow with the number of idle connections, which is exactly
// what a load generator must not do.
//
// Source addresses: each socket binds to the local address its Spec names
// (127.0.0.2–127.0.0.250 round-robin in the load generator) with
// IP_BIND_ADDRESS_NO_PORT, so the kernel picks the port at connect() time
// per (source, destination) pair and far more than 64k connections to one
// server port are possible.
package sio

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
	"golang.org/x/sys/unix"
)

// Handler receives what happens on the connections. Its methods run on the
// event loop that owns the connection (loop is its index, for per-loop
// state); they must not block, and must not retain name, args or reason
// slices.
type Handler interface {
	// Ready: the Socket.IO CONNECT was accepted and, when the Spec has a join
	// event, its ack arrived. elapsed counts from Dial.
	Ready(c *Conn, loop int, elapsed time.Duration)
	// Failed: the connection closed before it was ready. stage is one of
	// "tcp", "upgrade", "eio", "connect", "join", "timeout".
	Failed(c *Conn, loop int, stage string, err error)
	// Event: a Socket.IO EVENT on namespace "/". name is the event name,
	// args the raw JSON after it (`,{...}]`).
	Event(c *Conn, loop int, name, args []byte)
	// Closed: a ready connection ended (server close, reset, Close).
	Closed(c *Conn, loop int, err error)
}

// Target is a resolved server address.
type Target struct {
	Addr [4]byte
	Port int
	host string // Host header
	path string // request target
}

// ParseTarget accepts http://, https://-less ws:// and bare host:port forms;
// the path defaults to /socket.io/. Only IPv4 is supported (the load
// generator talks to loopback).
func ParseTarget(raw string) (*Target, error) {
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	switch u.Scheme {
	case "http", "ws":
	default:
		return nil, fmt.Errorf("sio: scheme %q not supported (plain http/ws only)", u.Scheme)
	}
	port := 80
	if p := u.Port(); p != "" {
		if port, err = strconv.Atoi(p); err != nil {
			return nil, fmt.Errorf("sio: bad port in %q", raw)
		}
	}
	ips, err := net.LookupIP(u.Hostname())
	if err != nil {
		return nil, err
	}
	t := &Target{Port: port, host: u.Host}
	found := false
	for _, ip := range ips {
		if v4 := ip.To4(); v4 != nil {
			copy(t.Addr[:], v4)
			found = true
			break
		}
	}
	if !found {
		return nil, fmt.Errorf("sio: no IPv4 address for %q", u.Hostname())
	}
	path := u.Path
	if path == "" || path == "/" {
		path = "/socket.io/"
	}
	t.path = path + "?EIO=4&transport=websocket"
	return t, nil
}

func (t *Target) String() string {
	return fmt.Sprintf("%d.%d.%d.%d:%d", t.Addr[0], t.Addr[1], t.Addr[2], t.Addr[3], t.Port)
}

// Spec says how to open one connection.
type Spec struct {
	Target *Target
	// Local is the source address; zero means the kernel's choice.
	Local [4]byte
	// Token goes in the CONNECT payload as {"token": ...}; empty sends none.
	Token string
	// JoinEvent, when set, is emitted with JoinArgs (a JSON value) and an ack
	// id right after CONNECT; the connection is ready when the ack arrives
	// (an ack holding "error" fails it).
	JoinEvent string
	JoinArgs  string
}

// Conn is one client connection. The exported fields are the
// application's: set them before Dial; the engine never touches them.
type Conn struct {
	ID   int32
	Room int32
	Tag  uint8
	Last atomic.Int64 // free for the application (e.g. the last count seen)

	state uint8
	fd    int
	lp    *loop
	start time.Time
	hs    *handshake // until ready
	in    []byte     // unconsumed input (a partial frame), usually nil
	frag  []byte     // a fragmented message being assembled, usually nil
	fragT byte

	mu     sync.Mutex
	out    []byte // bytes the socket did not take yet
	closed bool
}

type handshake struct {
	key     string
	connect []byte // Engine.IO/Socket.IO CONNECT text
	join    []byte // join event text, or nil
	target  *Target
}

const (
	stConnecting uint8 = iota
	stHTTP
	stEIOOpen
	stSIOConnect
	stJoin
	stReady
	stClosed
)

var stageNames = [...]string{"tcp", "upgrade", "eio", "connect", "join", "ready", "closed"}

// Errors reported to the Handler.
var (
	ErrClosed        = errors.New("sio: connection closed")
	ErrServerClose   = errors.New("sio: server closed the connection")
	ErrTimeout       = errors.New("sio: handshake timeout")
	ErrSlow          = errors.New("sio: send queue full")
	errProtocol      = errors.New("sio: protocol error")
	errHeaderTooLong = errors.New("sio: upgrade response too long")
)

const (
	readBuffer  = 64 << 10
	maxMessage  = 16 << 20
	maxOut      = 4 << 20
	keepInBytes = 4 << 10
	epollIn     = unix.EPOLLIN | unix.EPOLLRDHUP
)

// Config tunes an Engine.
type Config struct {
	Loops            int           // event loops (epoll instances), default 1
	HandshakeTimeout time.Duration // from Dial to ready, default 10 s
}

// Engine owns the event loops and every connection dialled through it.
type Engine struct {
	cfg     Config
	h       Handler
	loops   []*loop
	table   []atomic.Pointer[Conn] // by fd
	rr      atomic.Uint32
	stopped atomic.Bool
}

type loop struct {
	idx  int
	e    *Engine
	epfd int
	buf  []byte
	tmp  []byte // scratch for frames written by the loop
	done chan struct{}
}

// New starts an Engine's loops.
func New(cfg Config, h Handler) (*Engine, error) {
	if cfg.Loops <= 0 {
		cfg.Loops = 1
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = 10 * time.Second
	}
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return nil, err
	}
	size := min(lim.Cur, 1<<20) + 1
	e := &Engine{cfg: cfg, h: h, table: make([]atomic.Pointer[Conn], size)}
	for i := 0; i < cfg.Loops; i++ {
		fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			e.Close()
			return nil, err
		}
		lp := &loop{idx: i, e: e, epfd: fd, buf: make([]byte, readBuffer), done: make(chan struct{})}
		e.loops = append(e.loops, lp)
		go lp.run()
	}
	return e, nil
}

// Dial starts opening c as spec says; the Handler learns the outcome. An
// error here (no fd left, bad address) means the Handler will hear nothing.
func (e *Engine) Dial(c *Conn, spec *Spec) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	if fd >= len(e.table) {
		_ = unix.Close(fd)
		return fmt.Errorf("sio: fd %d over the table", fd)
	}
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	if spec.Local != [4]byte{} {
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
		if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: spec.Local}); err != nil {
			_ = unix.Close(fd)
			return fmt.Errorf("sio: bind %v: %w", spec.Local, err)
		}
	}
	c.fd = fd
	c.state = stConnecting
	c.start = time.Now()
	c.hs = newHandshake(spec)
	c.lp = e.loops[int(e.rr.Add(1))%len(e.loops)]
	e.table[fd].Store(c) // publishes c to the loop (happens-before its Load)
	err = unix.Connect(fd, &unix.SockaddrInet4{Addr: spec.Target.Addr, Port: spec.Target.Port})
	if err != nil && err != unix.EINPROGRESS {
		e.table[fd].Store(nil)
		_ = unix.Close(fd)
		return fmt.Errorf("sio: connect: %w", err)
	}
	ev := unix.EpollEvent{Events: epollIn | unix.EPOLLOUT, Fd: int32(fd)}
	if err := unix.EpollCtl(c.lp.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		e.table[fd].Store(nil)
		_ = unix.Close(fd)
		return err
	}
	return nil
}

func newHandshake(spec *Spec) *handshake {
	var k [16]byte
	binary.LittleEndian.PutUint64(k[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(k[8:], rand.Uint64())
	h := &handshake{key: base64.StdEncoding.EncodeToString(k[:]), target: spec.Target}
	h.connect = append(h.connect, "40"...)
	if spec.Token != "" {
		h.connect = append(h.connect, `{"token":`...)
		h.connect = strconv.AppendQuote(h.connect, spec.Token)
		h.connect = append(h.connect, '}')
	}
	if spec.JoinEvent != "" {
		h.join = append(h.join, `421[`...)
		h.join = strconv.AppendQuote(h.join, spec.JoinEvent)
		h.join = append(h.join, ',')
		h.join = append(h.join, spec.JoinArgs...)
		h.join = append(h.join, ']')
	}
	return h
}

// Close stops the loops and closes every connection, without callbacks.
func (e *Engine) Close() {
	if e.stopped.Swap(true) {
		return
	}
	for _, lp := range e.loops {
		<-lp.done
	}
	for i := range e.table {
		if c := e.table[i].Load(); c != nil {
			c.shut()
		}
	}
	for _, lp := range e.loops {
		_ = unix.Close(lp.epfd)
	}
}

// AppendText appends a masked WebSocket text frame holding payload.
func AppendText(dst, payload []byte) []byte {
	return appendFrame(dst, ws.OpText, payload)
}

func appendFrame(dst []byte, op ws.OpCode, payload []byte) []byte {
	n := len(payload)
	dst = append(dst, 0x80|byte(op))
	switch {
	case n < 126:
		dst = append(dst, 0x80|byte(n))
	case n < 1<<16:
		dst = append(dst, 0x80|126, byte(n>>8), byte(n))
	default:
		dst = append(dst, 0x80|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	var mask [4]byte
	binary.LittleEndian.PutUint32(mask[:], rand.Uint32())
	dst = append(dst, mask[:]...)
	start := len(dst)
	dst = append(dst, payload...)
	ws.Cipher(dst[start:], mask, 0)
	return dst
}

// Send writes a complete frame (see AppendText). What the socket does not
// take at once is queued and flushed by the loop; frame may be reused as
// soon as Send returns. Safe for concurrent use.
func (c *Conn) Send(frame []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	if len(c.out) > 0 {
		if len(c.out)+len(frame) > maxOut {
			return ErrSlow
		}
		c.out = append(c.out, frame...)
		return nil
	}
	n, err := unix.Write(c.fd, frame)
	if err != nil {
		if err != unix.EAGAIN && err != unix.EINTR {
			return err
		}
		n = 0
	}
	if n < len(frame) {
		c.out = append(c.out, frame[n:]...)
		ev := unix.EpollEvent{Events: epollIn | unix.EPOLLOUT, Fd: int32(c.fd)}
		return unix.EpollCtl(c.lp.epfd, unix.EPOLL_CTL_MOD, c.fd, &ev)
	}
	return nil
}

// flush writes queued bytes; called by the loop on EPOLLOUT.
func (c *Conn) flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	for len(c.out) > 0 {
		n, err := unix.Write(c.fd, c.out)
		if err == unix.EAGAIN || err == unix.EINTR {
			return nil
		}
		if err != nil {
			return err
		}
		c.out = c.out[n:]
	}
	c.out = nil
	ev := unix.EpollEvent{Events: epollIn, Fd: int32(c.fd)}
	return unix.EpollCtl(c.lp.epfd, unix.EPOLL_CTL_MOD, c.fd, &ev)
}

// shut closes the socket once; the fd leaves the table first, so a reused
// fd number never maps to a dead Conn.
func (c *Conn) shut() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.closed = true
	c.out = nil
	c.lp.e.table[c.fd].CompareAndSwap(c, nil)
	_ = unix.Close(c.fd)
	return true
}

func (lp *loop) run() {
	defer close(lp.done)
	events := make([]unix.EpollEvent, 512)
	lastSweep := time.Now()
	for !lp.e.stopped.Load() {
		n, err := unix.EpollWait(lp.epfd, events, 50)
		if err != nil && err != unix.EINTR {
			panic(fmt.Sprintf("sio: epoll_wait: %v", err))
		}
		for i := 0; i < n; i++ {
			c := lp.e.table[events[i].Fd].Load()
			if c == nil || c.lp != lp {
				continue // closed meanwhile, or its fd number now belongs to another loop
			}
			lp.handle(c, events[i].Events)
		}
		if now := time.Now(); now.Sub(lastSweep) >= 250*time.Millisecond {
			lastSweep = now
			lp.sweep(now)
		}
	}
}

// sweep fails this loop's connections whose handshake is overdue.
func (lp *loop) sweep(now time.Time) {
	limit := lp.e.cfg.HandshakeTimeout
	for i := range lp.e.table {
		c := lp.e.table[i].Load()
		if c != nil && c.lp == lp && c.state < stReady && now.Sub(c.start) > limit {
			lp.fail(c, ErrTimeout)
		}
	}
}

func (lp *loop) handle(c *Conn, ev uint32) {
	if c.state == stConnecting {
		if ev&(unix.EPOLLOUT|unix.EPOLLERR|unix.EPOLLHUP) == 0 {
			return
		}
		errno, err := unix.GetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_ERROR)
		if err == nil && errno != 0 {
			err = unix.Errno(errno)
		}
		if err == nil {
			if _, perr := unix.Getpeername(c.fd); perr != nil {
				if ev&(unix.EPOLLERR|unix.EPOLLHUP) == 0 {
					return // spurious wakeup, still connecting
				}
				err = perr
			}
		}
		if err != nil {
			lp.fail(c, err)
			return
		}
		c.state = stHTTP
		ev := unix.EpollEvent{Events: epollIn, Fd: int32(c.fd)}
		if err := unix.EpollCtl(lp.epfd, unix.EPOLL_CTL_MOD, c.fd, &ev); err != nil {
			lp.fail(c, err)
			return
		}
		t := c.hs.target
		req := make([]byte, 0, 256)
		req = append(req, "GET "...)
		req = append(req, t.path...)
		req = append(req, " HTTP/1.1\r\nHost: "...)
		req = append(req, t.host...)
		req = append(req, "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: "...)
		req = append(req, c.hs.key...)
		req = append(req, "\r\n\r\n"...)
		if err := c.Send(req); err != nil {
			lp.fail(c, err)
		}
		return
	}
	if ev&unix.EPOLLOUT != 0 {
		if err := c.flush(); err != nil {
			lp.fail(c, err)
			return
		}
	}
	if ev&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		lp.read(c)
	}
}

func (lp *loop) read(c *Conn) {
	n, err := unix.Read(c.fd, lp.buf)
	if err == unix.EAGAIN || err == unix.EINTR {
		return
	}
	if err != nil {
		lp.fail(c, err)
		return
	}
	if n == 0 {
		lp.fail(c, ErrServerClose)
		return
	}
	data := lp.buf[:n]
	inHeld := len(c.in) > 0
	if inHeld {
		c.in = append(c.in, data...)
		data = c.in
	}
	rest, err := lp.process(c, data)
	if err != nil {
		lp.fail(c, err)
		return
	}
	if c.state == stClosed {
		return
	}
	switch {
	case len(rest) == 0:
		if cap(c.in) > keepInBytes {
			c.in = nil
		} else {
			c.in = c.in[:0]
		}
	case inHeld:
		c.in = c.in[:copy(c.in, rest)]
	default:
		c.in = append(c.in[:0], rest...)
	}
}

// process consumes the complete frames (and, first, the upgrade response)
// at the head of data and returns what is left.
func (lp *loop) process(c *Conn, data []byte) ([]byte, error) {
	if c.state == stHTTP {
		i := bytes.Index(data, []byte("\r\n\r\n"))
		if i < 0 {
			if len(data) > 16<<10 {
				return nil, errHeaderTooLong
			}
			return data, nil
		}
		if err := checkUpgrade(data[:i], c.hs.key); err != nil {
			return nil, err
		}
		data = data[i+4:]
		c.state = stEIOOpen
	}
	for len(data) >= 2 {
		b0, b1 := data[0], data[1]
		if b1&0x80 != 0 {
			return nil, fmt.Errorf("%w: masked frame from server", errProtocol)
		}
		hl, ln := 2, uint64(b1&0x7f)
		switch ln {
		case 126:
			if len(data) < 4 {
				return data, nil
			}
			hl, ln = 4, uint64(binary.BigEndian.Uint16(data[2:4]))
		case 127:
			if len(data) < 10 {
				return data, nil
			}
			hl, ln = 10, binary.BigEndian.Uint64(data[2:10])
		}
		if ln > maxMessage {
			return nil, fmt.Errorf("%w: frame of %d bytes", errProtocol, ln)
		}
		if uint64(len(data)-hl) < ln {
			return data, nil
		}
		payload := data[hl : hl+int(ln)]
		data = data[hl+int(ln):]
		if err := lp.frame(c, b0&0x80 != 0, ws.OpCode(b0&0x0f), payload); err != nil {
			return nil, err
		}
		if c.state == stClosed {
			return nil, nil
		}
	}
	return data, nil
}

func (lp *loop) frame(c *Conn, fin bool, op ws.OpCode, payload []byte) error {
	switch op {
	case ws.OpClose:
		return ErrServerClose
	case ws.OpPing:
		lp.tmp = appendFrame(lp.tmp[:0], ws.OpPong, payload)
		return c.Send(lp.tmp)
	case ws.OpPong:
		return nil
	case ws.OpText, ws.OpBinary, ws.OpContinuation:
	default:
		return fmt.Errorf("%w: opcode %d", errProtocol, op)
	}
	if !fin {
		if op != ws.OpContinuation {
			c.fragT = byte(op)
		}
		if len(c.frag)+len(payload) > maxMessage {
			return fmt.Errorf("%w: message too long", errProtocol)
		}
		c.frag = append(c.frag, payload...)
		return nil
	}
	if op == ws.OpContinuation {
		payload = append(c.frag, payload...)
		op = ws.OpCode(c.fragT)
		c.frag = nil
	}
	if op == ws.OpBinary {
		return nil // no binary events in these scenarios
	}
	return lp.message(c, payload)
}

// message handles one Engine.IO packet.
func (lp *loop) message(c *Conn, p []byte) error {
	if len(p) == 0 {
		return nil
	}
	switch p[0] {
	case '0': // open
		if c.state == stEIOOpen {
			c.state = stSIOConnect
			return lp.sendText(c, c.hs.connect)
		}
	case '1': // close
		return ErrServerClose
	case '2': // ping
		return lp.sendText(c, []byte{'3'})
	case '4':
		return lp.packet(c, p[1:])
	}
	return nil
}

// packet handles one Socket.IO packet on namespace "/".
func (lp *loop) packet(c *Conn, p []byte) error {
	if len(p) == 0 {
		return fmt.Errorf("%w: empty socket.io packet", errProtocol)
	}
	switch p[0] {
	case '0': // CONNECT accepted
		if c.state != stSIOConnect {
			return nil
		}
		if c.hs.join == nil {
			lp.ready(c)
			return nil
		}
		c.state = stJoin
		return lp.sendText(c, c.hs.join)
	case '4': // CONNECT_ERROR
		return fmt.Errorf("connect refused: %s", p[1:])
	case '1': // DISCONNECT
		return ErrServerClose
	case '3': // ACK
		if c.state == stJoin {
			if bytes.Contains(p, []byte(`"error"`)) {
				return fmt.Errorf("join refused: %s", p[1:])
			}
			lp.ready(c)
		}
	case '2': // EVENT
		name, args, ok := splitEvent(p[1:])
		if !ok {
			return fmt.Errorf("%w: bad event %.60q", errProtocol, p)
		}
		lp.e.h.Event(c, lp.idx, name, args)
	}
	return nil
}

// splitEvent splits `[ackid]["name",args...]` into the name and the text
// after it. Event names of this protocol never hold escapes.
func splitEvent(p []byte) (name, args []byte, ok bool) {
	i := 0
	for i < len(p) && p[i] >= '0' && p[i] <= '9' {
		i++
	}
	p = p[i:]
	if len(p) < 3 || p[0] != '[' || p[1] != '"' {
		return nil, nil, false
	}
	j := bytes.IndexByte(p[2:], '"')
	if j < 0 {
		return nil, nil, false
	}
	return p[2 : 2+j], p[3+j:], true
}

func (lp *loop) sendText(c *Conn, payload []byte) error {
	lp.tmp = appendFrame(lp.tmp[:0], ws.OpText, payload)
	return c.Send(lp.tmp)
}

func (lp *loop) ready(c *Conn) {
	c.state = stReady
	c.hs = nil
	lp.e.h.Ready(c, lp.idx, time.Since(c.start))
}

// fail closes c and tells the Handler, once.
func (lp *loop) fail(c *Conn, err error) {
	state := c.state
	if state == stClosed || !c.shut() {
		return
	}
	c.state = stClosed
	c.in, c.frag, c.hs = nil, nil, nil
	if state == stReady {
		lp.e.h.Closed(c, lp.idx, err)
		return
	}
	stage := stageNames[state]
	if err == ErrTimeout {
		stage = "timeout"
	}
	lp.e.h.Failed(c, lp.idx, stage, err)
}

const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// checkUpgrade validates the HTTP response head (without the final CRLFCRLF).
func checkUpgrade(head []byte, key string) error {
	line, rest, _ := bytes.Cut(head, []byte("\r\n"))
	f := bytes.Fields(line)
	if len(f) < 2 || !bytes.Equal(f[1], []byte("101")) {
		return fmt.Errorf("upgrade refused: %.80s", line)
	}
	sum := sha1.Sum([]byte(key + wsGUID))
	want := base64.StdEncoding.EncodeToString(sum[:])
	for len(rest) > 0 {
		var h []byte
		h, rest, _ = bytes.Cut(rest, []byte("\r\n"))
		name, value, ok := bytes.Cut(h, []byte(":"))
		if ok && strings.EqualFold(string(bytes.TrimSpace(name)), "Sec-WebSocket-Accept") {
			if string(bytes.TrimSpace(value)) != want {
				return fmt.Errorf("upgrade: bad Sec-WebSocket-Accept")
			}
			return nil
		}
	}
	return fmt.Errorf("upgrade: no Sec-WebSocket-Accept")
}
