package engineio

import (
	"errors"
	"net"
	"net/http"
	"runtime/debug"
	"sync"
	"time"

	"github.com/gobwas/ws"
)

// Handler receives the life of every session. Its methods are called from
// the goroutine applying what the session's transport read (for WebSocket,
// a goroutine that exists only while there are messages to apply; see
// wsconn.go) or from the one closing the session; for one session
// OnMessage is never called concurrently. A handler may block: that holds
// up its own session only.
type Handler interface {
	// OnOpen is called once the session exists, before any message.
	OnOpen(s *Session)
	// OnMessage receives a message packet. data is owned by the callee.
	OnMessage(s *Session, data []byte, binary bool)
	// OnClose is called exactly once, after the session has closed.
	OnClose(s *Session, reason string)
}

// Errors returned by Session.Send.
var (
	ErrSessionClosed = errors.New("engineio: session closed")
	ErrSlowConsumer  = errors.New("engineio: send buffer full")
	// ErrVolatileDropped says a Volatile batch was not queued because the
	// session is behind; the session stays open. An error, so that callers
	// counting deliveries do not count it.
	ErrVolatileDropped = errors.New("engineio: volatile message dropped, session behind")
)

// lingerTimeout bounds how long a closed polling session waits for the GET
// that collects its last packet.
const lingerTimeout = time.Second

// closeFrameTimeout bounds how long a closing WebSocket session waits to
// write its close frame once its queue is out.
const closeFrameTimeout = time.Second

// Close reasons reported to Handler.OnClose.
const (
	ReasonClientClose    = "client close"
	ReasonServerClose    = "server close"
	ReasonPingTimeout    = "ping timeout"
	ReasonTransportClose = "transport close"
	ReasonTransportError = "transport error"
	ReasonParseError     = "parse error"
	ReasonSlowConsumer   = "slow consumer"
	ReasonOverlap        = "overlapping poll"
	ReasonShutdown       = "server shutdown"
	ReasonHandlerError   = "handler error"
)

type transportKind uint8

const (
	transportPolling transportKind = iota
	transportWebSocket
)

// Session is one Engine.IO connection, whatever transport it is on.
//
// Its fields are laid out for an idle WebSocket session, the most common
// kind by far: what only the polling transport and the upgrade need lives
// in x, allocated for sessions opened on polling only; the read side of
// the WebSocket (wsconn.go) and its descriptor (sockFD) are part of the
// session rather than objects of their own; the small fields come last,
// together, so that they cost no padding.
type Session struct {
	id  string
	srv *Server
	hs  handshakeInfo // what is kept of the request that opened the session

	// data is the handler's per-session value.
	data any

	mu          sync.Mutex
	queue       []*Message
	queuedBytes int           // of queue and of the batch a flush goroutine is writing
	x           *sessionExtra // polling, upgrade and net.Conn state; nil for a WebSocket on fd
	// fd is the WebSocket descriptor taken from Go (sockfd_linux.go), when
	// hasFD was ever set. It is set once, before the read side starts, and
	// never changed after: the poller reads it without the session's lock,
	// and its own state makes calls on it fail once it is closed.
	fd           sockFD
	hbDue        int64 // wheel tick when the heartbeat is next handled (heartbeat.go)
	pongDeadline int64 // wheel time when an unanswered ping times out (or will)

	// The session's links in the heartbeat wheel.
	hbNext, hbPrev *Session

	// The read side of the WebSocket (wsconn.go).
	rp  *poller     // poller watching fd; nil when read by readLoop (or not yet)
	rid uint64      // registration in rp; guarded by rp.mu
	fp  frameParser // owned by whoever reads the connection (one-shot epoll)

	head   int32  // bytes of queue[0]'s frame already written
	hbSlot int32  // slot in the heartbeat wheel plus one; 0 when out of it
	flIdx  uint32 // index in srv.flushers of the flusher that writes fd's queue

	closed       bool
	transport    transportKind
	hasFD        bool      // fd is ours and not closed yet
	waitAdded    bool      // fd is in the write waiter's epoll set
	writing      bool      // conn: a flush goroutine owns it; fd: it waits for writability
	scheduled    bool      // in the flusher's pending list
	awaitingPong bool      // a ping went out and its pong has not come back
	closeCode    closeCode // WebSocket close frame to send after the queue
	rdead        bool      // removed from rp: never registered again; guarded by rp.mu
	open         openState // where the handler's OnOpen is (begin)
	lateClose    uint8     // closed while OnOpen ran: 1 + index in closeReasons
}

// openState orders the handler's calls: OnClose only after OnOpen has
// returned, and neither for a session closed before it began (a shutdown
// racing a WebSocket open).
type openState uint8

const (
	openNotYet  openState = iota // begin has not run: a close calls no handler
	openRunning                  // OnOpen is running: a close is reported after it
	openDone                     // OnOpen returned: a close calls OnClose
)

// closeReasons are the reasons a session can close with, for lateClose.
var closeReasons = [...]string{
	ReasonClientClose, ReasonServerClose, ReasonPingTimeout, ReasonTransportClose, ReasonTransportError,
	ReasonParseError, ReasonSlowConsumer, ReasonOverlap, ReasonShutdown, ReasonHandlerError,
}

func closeReasonCode(reason string) uint8 {
	for i, r := range closeReasons {
		if r == reason {
			return uint8(i + 1)
		}
	}
	return 2 // ReasonServerClose, for a reason not listed (none is today)
}

// sessionExtra is what a session needs only while it can be on the
// polling transport or is being upgraded, and the connection of a
// WebSocket that is not a descriptor of our own. A session opened on
// WebSocket with a descriptor never has one; an upgraded session drops it
// once on its descriptor (see probe). Code that may run after the upgrade
// (a GET or POST that passed its transport check before it) keeps its own
// pointer to it rather than reading x again. Guarded by the session's mu
// except readMu.
type sessionExtra struct {
	// readMu serialises packet handling across overlapping POSTs.
	readMu sync.Mutex

	pollWaiting bool          // a GET is parked waiting for packets
	releasePoll bool          // answer the parked GET with a noop (upgrade in progress)
	probing     bool          // a WebSocket upgrade is in progress
	pollWake    chan struct{} // cap 1; signalled when a parked GET should look again
	probeConn   net.Conn      // WebSocket being probed during an upgrade
	conn        net.Conn      // WebSocket connection, when not taken from Go (fd)
	linger      *time.Timer   // keeps a closed polling session findable for its last GET
}

// closeCode names the close frame a closing WebSocket session sends; 0 is
// none chosen yet.
type closeCode uint8

const (
	closeNone closeCode = iota
	closeNormal
	closeGoingAway
	closeTooBig
	closeProtocolError
	closeInternalError
	closeUnsupportedData
)

var closeFrames = [...][]byte{
	closeNone:            nil,
	closeNormal:          ws.CompiledCloseNormalClosure,
	closeGoingAway:       ws.CompiledCloseGoingAway,
	closeTooBig:          ws.CompiledCloseMessageTooBig,
	closeProtocolError:   ws.CompiledCloseProtocolError,
	closeInternalError:   ws.CompiledCloseInternalServerError,
	closeUnsupportedData: ws.CompiledCloseUnsupportedData,
}

// conn returns the WebSocket connection when it is a net.Conn rather than
// a descriptor of our own, or nil. The caller holds s.mu.
func (s *Session) conn() net.Conn {
	if s.x == nil {
		return nil
	}
	return s.x.conn
}

// flusher returns the flusher that writes the session's descriptor.
func (s *Session) flusher() *flusher { return s.srv.flushers[s.flIdx] }

// ID returns the session id sent in the handshake.
func (s *Session) ID() string { return s.id }

// Request returns a trimmed copy of the HTTP request that opened the
// session: method, host, URL, remote address and the headers listed in
// keptHeaders. The full request is not kept, to keep idle sessions small.
func (s *Session) Request() *http.Request { return s.hs.request() }

// SetData attaches the handler's per-session value.
func (s *Session) SetData(v any) { s.data = v }

// Data returns the value given to SetData.
func (s *Session) Data() any { return s.data }

// Transport names the current transport: "polling" or "websocket".
func (s *Session) Transport() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.transport == transportWebSocket {
		return "websocket"
	}
	return "polling"
}

// Send queues m for the peer. It never blocks on the network: on
// WebSocket the queue is written by a flusher (see flusher.go) or, for a
// connection without a descriptor of our own, by the session's own flush
// goroutine.
func (s *Session) Send(m *Message) error {
	one := [1]*Message{m}
	return s.SendBatch(one[:]...)
}

// SendBatch queues several messages atomically, in order (a Socket.IO
// packet and its binary attachments must not be interleaved with others).
// A batch holding a Volatile message is dropped whole when the session is
// behind (see Config.VolatileBufferedBytes), with ErrVolatileDropped.
func (s *Session) SendBatch(ms ...*Message) error {
	s.mu.Lock()
	done, err := s.sendLocked(ms)
	s.mu.Unlock()
	if done != nil {
		done()
	}
	return err
}

// sendLocked queues ms. When the queue overflows it closes the session and
// returns the close callback, which the caller runs once unlocked.
func (s *Session) sendLocked(ms []*Message) (func(), error) {
	if s.closed {
		return nil, ErrSessionClosed
	}
	if len(ms) == 0 {
		return nil, nil
	}
	if s.queuedBytes >= s.srv.cfg.VolatileBufferedBytes && volatile(ms) {
		s.srv.stats.VolatileDropped.Add(int64(len(ms)))
		return nil, ErrVolatileDropped
	}
	for _, m := range ms {
		s.queue = append(s.queue, m)
		s.queuedBytes += m.pollingLen()
	}
	if s.queuedBytes > s.srv.cfg.MaxBufferedBytes {
		s.srv.stats.SlowConsumers.Add(1)
		s.dropQueueLocked()
		if c := s.conn(); s.writing && c != nil {
			// A flush goroutine may be blocked writing to a client that
			// does not read: end its write now instead of after
			// WriteTimeout, so the socket and its buffers go at once.
			_ = c.SetWriteDeadline(time.Now())
		}
		if s.writing && s.hasFD {
			// Likewise for a descriptor waiting to be writable: close it
			// now, without the close frame it could not take either.
			s.writing = false
			s.closeFDLocked()
		}
		return s.closeLocked(ReasonSlowConsumer, nil), ErrSlowConsumer
	}
	s.kickLocked()
	return nil, nil
}

// volatile reports whether a batch may be dropped for a client that is
// behind: a batch is one packet (with its attachments), kept or dropped whole.
func volatile(ms []*Message) bool {
	for _, m := range ms {
		if m.Volatile {
			return true
		}
	}
	return false
}

// writeNow writes the frames of ms, the first from byte off, with
// non-blocking writes on the connection's descriptor, coalesced into one
// vectored write when there are several (unless NoWriteCoalescing). It
// returns how many messages went out whole and how many bytes of the next
// one, and the error that stopped it, if any (a full socket buffer is no
// error). It stops at the first short write or error.
func (s *Session) writeNow(w *rawWriter, ms []*Message, off int) (int, int, error) {
	k := 0
	for k < len(ms) {
		var (
			n, want int
			err     error
		)
		if s.srv.cfg.NoWriteCoalescing || len(ms)-k == 1 {
			f := ms[k].wsFrame()[off:]
			want = len(f)
			n, err = w.Write(&s.fd, f)
		} else {
			for i, m := range ms[k:min(len(ms), k+maxIovecs)] {
				f := m.wsFrame()
				if i == 0 {
					f = f[off:]
				}
				w.iov = append(w.iov, f)
				want += len(f)
			}
			n, err = w.Writev(&s.fd)
		}
		for rest := n; rest > 0; {
			f := len(ms[k].wsFrame()) - off
			if rest < f {
				off += rest
				break
			}
			rest -= f
			off = 0
			k++
		}
		if err != nil && !isWouldBlock(err) {
			return k, off, err
		}
		if err != nil || n < want {
			break
		}
	}
	return k, off, nil
}

// kickLocked makes the current transport pick up the queue.
func (s *Session) kickLocked() {
	if s.transport != transportWebSocket {
		s.wakePoll()
		return
	}
	if s.writing || len(s.queue) == 0 {
		return
	}
	if s.hasFD {
		s.scheduleLocked()
		return
	}
	c := s.conn()
	if c == nil {
		return
	}
	s.writing = true
	go s.flushWebSocket(c)
}

// scheduleLocked puts s in its flusher's pending list, once.
func (s *Session) scheduleLocked() {
	if !s.scheduled {
		s.scheduled = true
		s.flusher().add(s)
	}
}

// wakePoll wakes a parked GET, if the session can have one.
func (s *Session) wakePoll() {
	if s.x != nil {
		s.x.wakePoll()
	}
}

func (x *sessionExtra) wakePoll() {
	select {
	case x.pollWake <- struct{}{}:
	default:
	}
}

// Close closes the session from the server side. The peer is told with a
// close packet, so a Socket.IO client treats it as a transport loss and
// reconnects on its own.
func (s *Session) Close() { s.close(ReasonServerClose, closeMessage) }

func (s *Session) close(reason string, final *Message) {
	s.mu.Lock()
	done := s.closeLocked(reason, final)
	s.mu.Unlock()
	if done != nil {
		done()
	}
}

// closeLocked marks the session closed, queues final (if any) for the
// transport to deliver, and returns the callback to run once unlocked.
// It returns nil when the session was already closed.
func (s *Session) closeLocked(reason string, final *Message) func() {
	if s.closed {
		return nil
	}
	s.closed = true
	s.srv.heartbeats.remove(s)
	// On WebSocket the close frame says it all; close and noop packets are
	// only needed to release a parked long-polling GET.
	if final != nil && s.transport == transportPolling {
		s.queue = append(s.queue, final)
	}
	if final == nil {
		s.dropQueueLocked() // nothing more reaches the client
	}
	if x := s.x; x != nil && x.probeConn != nil {
		_ = x.probeConn.Close()
		x.probeConn = nil
	}
	if c := s.conn(); s.transport == transportWebSocket && (c != nil || s.hasFD) {
		if s.closeCode == closeNone {
			s.closeCode = closeNormal
			if reason == ReasonShutdown {
				s.closeCode = closeGoingAway
			}
		}
		if s.hasFD {
			// The flusher writes the queue, then the close frame, then
			// closes the descriptor (flushNow).
			m := rawFrame(closeFrames[s.closeCode])
			s.queue = append(s.queue, m)
			s.queuedBytes += m.pollingLen() // as flushNow counts it out
			if !s.writing {
				s.scheduleLocked()
			}
		} else if !s.writing {
			s.writing = true
			go s.flushWebSocket(c)
		}
	} else {
		s.wakePoll()
	}
	if s.transport == transportPolling && final == noopMessage && !s.x.pollWaiting {
		// The client's next GET (possibly already on its way) collects the
		// final packet; until then, or lingerTimeout, the sid stays known.
		// (A session on polling always has x.)
		s.x.linger = time.AfterFunc(lingerTimeout, func() { s.srv.remove(s) })
	} else {
		s.srv.remove(s)
	}
	switch s.open {
	case openNotYet:
		return nil
	case openRunning:
		s.lateClose = closeReasonCode(reason)
		return nil
	}
	return func() {
		s.srv.handler.OnClose(s, reason)
	}
}

// handlePacket applies one packet received on the session's transport. A
// non-nil error means the session must be closed for a protocol violation.
func (s *Session) handlePacket(p Packet) error {
	s.srv.stats.PacketsIn.Add(1)
	switch p.Type {
	case PacketMessage:
		return s.deliver(p)
	case PacketPong:
		s.onPong()
	case PacketPing:
		// Not part of v4's server-driven heartbeat, but harmless to answer.
		_ = s.Send(&Message{Type: PacketPong, Data: append([]byte(nil), p.Data...)})
	case PacketClose:
		s.close(ReasonClientClose, noopMessage)
	case PacketNoop:
	default:
		return ErrInvalidPacket
	}
	return nil
}

// errHandlerPanic closes a session whose handler panicked.
var errHandlerPanic = errors.New("engineio: message handler panicked")

// deliver hands a message to the handler. A panic in application code
// closes this session, with the stack in the log, instead of the process.
func (s *Session) deliver(p Packet) (err error) {
	defer func() {
		if v := recover(); v != nil {
			s.srv.stats.Errors.Add(1)
			s.srv.cfg.Logger.Error("engineio: handler panic", "sid", s.id, "panic", v, "stack", string(debug.Stack()))
			err = errHandlerPanic
		}
	}()
	s.srv.handler.OnMessage(s, p.Data, p.Binary)
	return nil
}

// takeQueue removes and returns everything queued.
func (s *Session) takeQueueLocked() []*Message {
	q := s.queue
	s.queue = nil
	s.queuedBytes = 0
	return q
}

// dropQueueLocked forgets what is queued, except the rest of a frame
// already partly written: the peer must see whole frames up to the close
// frame.
func (s *Session) dropQueueLocked() {
	if s.head > 0 && len(s.queue) > 0 {
		s.queue = s.queue[:1:1]
		s.queuedBytes = s.queue[0].pollingLen()
		return
	}
	s.queue = nil
	s.queuedBytes, s.head = 0, 0
}

// flushWebSocket writes the queue to conn until it is empty. It is the only
// writer of conn while s.writing is set, so frames never interleave, and it
// exists only while there is something to write: an idle connection holds
// no writer goroutine.
func (s *Session) flushWebSocket(conn net.Conn) {
	for {
		s.mu.Lock()
		// The batch stays counted in queuedBytes until it is written: it
		// is held in memory all the same.
		batch, off, size := s.queue, int(s.head), s.queuedBytes
		s.queue, s.head = nil, 0
		if len(batch) == 0 {
			closing := s.closed
			frame := closeFrames[s.closeCode]
			s.writing = false
			s.mu.Unlock()
			if closing {
				_ = conn.SetWriteDeadline(time.Now().Add(closeFrameTimeout))
				_, _ = conn.Write(frame)
				_ = conn.Close()
			}
			return
		}
		s.mu.Unlock()
		if err := s.writeFrames(conn, batch, off); err != nil {
			s.srv.stats.Errors.Add(1)
			// A net.Conn is read by a goroutine of its own (readLoop),
			// never by a poller: there is no registration to drop first.
			_ = conn.Close()
			s.mu.Lock()
			s.writing = false
			done := s.closeLocked(ReasonTransportError, nil)
			s.queue = nil
			s.queuedBytes, s.head = 0, 0
			s.mu.Unlock()
			if done != nil {
				done()
			}
			return
		}
		s.mu.Lock()
		s.queuedBytes = max(0, s.queuedBytes-size) // zeroed if the queue was dropped meanwhile
		s.mu.Unlock()
		s.srv.stats.PacketsOut.Add(int64(len(batch)))
	}
}

// writeFrames writes the frames of batch, the first from byte off, with
// blocking writes bounded by WriteTimeout.
func (s *Session) writeFrames(conn net.Conn, batch []*Message, off int) error {
	if err := conn.SetWriteDeadline(time.Now().Add(s.srv.cfg.WriteTimeout)); err != nil {
		return err
	}
	if s.srv.cfg.NoWriteCoalescing || len(batch) == 1 {
		for i, m := range batch {
			f := m.wsFrame()
			if i == 0 {
				f = f[off:]
			}
			if _, err := conn.Write(f); err != nil {
				return err
			}
		}
		return nil
	}
	bufs := make(net.Buffers, len(batch))
	for i, m := range batch {
		bufs[i] = m.wsFrame()
	}
	bufs[0] = bufs[0][off:]
	_, err := bufs.WriteTo(conn)
	return err
}
