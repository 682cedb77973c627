package engineio

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/gobwas/ws"
)

var (
	errPeerClosed   = errors.New("engineio: peer closed the websocket")
	errFrameTooBig  = errors.New("engineio: websocket message over maxPayload")
	errBadFrame     = errors.New("engineio: websocket protocol error")
	errUnexpected   = errors.New("engineio: unexpected packet during upgrade")
	probeRequest    = "2probe"
	upgradeRequest  = "5"
	probeAnswer     = &Message{Type: PacketPong, Data: []byte("probe")}
	readBufferBytes = 1024
	// releaseCheck is how often a parked GET is released during an upgrade.
	releaseCheck = 100 * time.Millisecond
)

func isWebSocketRequest(r *http.Request) bool {
	return r.Method == http.MethodGet &&
		strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// upgrade performs the WebSocket handshake and takes the connection off
// net/http; the reader returned holds any bytes the client sent after its
// request. The 101 response is returned, not sent, so that the caller can
// send it in one write with its first frame. When the request is refused,
// the error response is sent and the connection closed.
func upgrade(w http.ResponseWriter, r *http.Request) (net.Conn, *bufio.Reader, []byte, error) {
	st := &upgradeState{}
	hc := &st.hc
	hc.out = st.buf[:0]
	st.hw = hijackWriter{ResponseWriter: w, hc: hc}
	_, rw, _, err := ws.UpgradeHTTP(r, &st.hw)
	if err != nil {
		if hc.Conn != nil {
			_ = hc.Conn.SetWriteDeadline(time.Now().Add(time.Second))
			_, _ = hc.Conn.Write(hc.out)
			_ = hc.Conn.Close()
		}
		return nil, nil, nil, err
	}
	return hc.Conn, rw.Reader, hc.out, nil
}

// upgradeState holds what one upgrade needs, in a single allocation. buf
// fits the 101 response and an open packet.
type upgradeState struct {
	hc  handshakeConn
	hw  hijackWriter
	buf [384]byte
}

// handshakeConn keeps what the upgrader writes instead of sending it.
type handshakeConn struct {
	net.Conn
	out []byte
}

func (c *handshakeConn) Write(p []byte) (int, error) {
	c.out = append(c.out, p...)
	return len(p), nil
}

// hijackWriter gives the upgrader the hijacked connection wrapped in a
// handshakeConn. The upgrader validates the request and writes its
// response exactly as it would on the connection itself; the buffered
// writer net/http allocated for the hijack is pointed at the wrapper
// rather than replaced.
type hijackWriter struct {
	http.ResponseWriter
	hc *handshakeConn
}

func (h hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	h.hc.Conn = conn
	rw.Writer.Reset(h.hc)
	return h.hc, rw, nil
}

// openWebSocket opens a session directly on WebSocket (no polling first).
// The 101 response and the open packet go out in one write.
func (srv *Server) openWebSocket(w http.ResponseWriter, r *http.Request) {
	if !isWebSocketRequest(r) {
		srv.fail(w, http.StatusBadRequest, errBadRequest)
		return
	}
	conn, br, resp, err := upgrade(w, r)
	if err != nil {
		srv.stats.BadRequests.Add(1)
		return
	}
	s, open := srv.newSession(r, transportWebSocket)
	resp = append(resp, (&Message{Type: PacketOpen, Data: open[1:]}).wsFrame()...)
	_ = conn.SetWriteDeadline(time.Now().Add(srv.cfg.WriteTimeout))
	if _, err := conn.Write(resp); err != nil {
		_ = conn.Close()
		srv.remove(s)
		return
	}
	s.mu.Lock()
	if s.closed {
		// Closed (server shutdown) before it had a connection to close.
		s.mu.Unlock()
		_, _ = conn.Write(ws.CompiledCloseGoingAway)
		_ = conn.Close()
		return
	}
	onFD := srv.attachLocked(s, conn)
	s.mu.Unlock()
	srv.begin(s)
	srv.startReading(s, conn, onFD, buffered(br))
}

// attachLocked makes conn the session's WebSocket connection. On Linux a
// socket's descriptor is taken from Go (s.fd) when the pollers run, conn
// is closed and true is returned. Otherwise conn stays, in s.x, and false
// is returned.
func (srv *Server) attachLocked(s *Session, conn net.Conn) bool {
	if srv.polling() && adoptConn(conn, &s.fd) {
		s.hasFD = true
		return true
	}
	if s.x == nil {
		s.x = &sessionExtra{}
	}
	s.x.conn = conn
	return false
}

// buffered returns a copy of the bytes waiting in br, or nil.
func buffered(br *bufio.Reader) []byte {
	if br.Buffered() == 0 {
		return nil
	}
	b, _ := br.Peek(br.Buffered())
	return append([]byte(nil), b...)
}

// refuseWebSocket completes the handshake and closes at once, as the
// reference server does for a second WebSocket on a session: browser and
// Node clients then see a clean close rather than a failed handshake.
func (srv *Server) refuseWebSocket(w http.ResponseWriter, r *http.Request) {
	srv.stats.BadRequests.Add(1)
	conn, _, resp, err := upgrade(w, r)
	if err != nil {
		return
	}
	_ = conn.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = conn.Write(append(resp, ws.CompiledClosePolicyViolation...))
	_ = conn.Close()
}

// upgradeWebSocket probes a WebSocket for a polling session and, on the
// client's upgrade packet, moves the session onto it.
func (srv *Server) upgradeWebSocket(w http.ResponseWriter, r *http.Request, s *Session) {
	if !isWebSocketRequest(r) {
		srv.fail(w, http.StatusBadRequest, errBadRequest)
		return
	}
	s.mu.Lock()
	// On polling, s.x is set.
	if s.closed || s.transport != transportPolling || s.x.probing {
		s.mu.Unlock()
		srv.refuseWebSocket(w, r)
		return
	}
	x := s.x
	x.probing = true
	s.mu.Unlock()
	conn, br, resp, err := upgrade(w, r)
	if err == nil {
		_ = conn.SetWriteDeadline(time.Now().Add(srv.cfg.WriteTimeout))
		if _, werr := conn.Write(resp); werr != nil {
			_ = conn.Close()
			conn, err = nil, werr
		}
	}
	s.mu.Lock()
	if err != nil || s.closed {
		x.probing = false
		s.mu.Unlock()
		srv.stats.BadRequests.Add(1)
		if conn != nil {
			_ = conn.Close()
		}
		return
	}
	x.probeConn = conn
	s.mu.Unlock()
	if br.Buffered() == 0 {
		// net/http's 4 KiB buffer is more than the probe needs.
		br = bufio.NewReaderSize(conn, readBufferBytes)
	}
	go srv.probe(s, x, conn, br)
}

// probe runs the upgrade of s, whose extra state is x: s.x is only read
// while s is on polling, and the upgrade may drop it, so the probe, and its
// timer that may fire after, keep their own pointer.
func (srv *Server) probe(s *Session, x *sessionExtra, conn net.Conn, br *bufio.Reader) {
	fr := frameReader{r: br, max: int64(srv.cfg.MaxPayload)}
	pong := func(p []byte) { _, _ = conn.Write(ws.MustCompileFrame(ws.NewPongFrame(p))) }
	fail := func() {
		_ = conn.Close()
		s.mu.Lock()
		if x.probeConn == conn {
			x.probeConn = nil
		}
		x.probing = false
		s.mu.Unlock()
	}
	_ = conn.SetReadDeadline(time.Now().Add(srv.cfg.UpgradeTimeout))

	op, data, err := fr.next(pong)
	if err != nil || op != ws.OpText || string(data) != probeRequest {
		fail()
		return
	}
	_ = conn.SetWriteDeadline(time.Now().Add(srv.cfg.WriteTimeout))
	if _, err := conn.Write(probeAnswer.wsFrame()); err != nil {
		fail()
		return
	}
	// The client now pauses polling and waits for its parked GET to end.
	// Like the reference server, release it with a noop on a 100 ms check
	// rather than at once: a GET that arrives together with the upgrade
	// packet must see the upgrade done (and get a 400), not a noop.
	var release *time.Timer
	check := func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.closed || s.transport != transportPolling || x.probeConn != conn {
			return
		}
		if x.pollWaiting {
			x.releasePoll = true
			x.wakePoll()
		}
		release.Reset(releaseCheck)
	}
	s.mu.Lock() // check reads release under the lock too
	release = time.AfterFunc(releaseCheck, check)
	s.mu.Unlock()
	defer release.Stop()

	op, data, err = fr.next(pong)
	if err != nil || op != ws.OpText || string(data) != upgradeRequest {
		fail()
		return
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = conn.Close()
		return
	}
	s.transport = transportWebSocket
	_ = conn.SetReadDeadline(time.Time{})
	onFD := srv.attachLocked(s, conn)
	x.probeConn = nil
	x.probing = false
	x.wakePoll() // a GET still parked learns that polling is over (400)
	if onFD {
		// Polling is over: no GET or POST reads s.x from now on (they
		// check the transport first, under mu; one that checked before
		// holds x itself), nor does this probe's timer (it holds x, and
		// stops at the transport check). The upgraded session is then as
		// small as one opened on WebSocket. With a net.Conn, x holds it.
		s.x = nil
	}
	if len(s.queue) > 0 {
		s.kickLocked()
	}
	s.mu.Unlock()
	srv.stats.Upgrades.Add(1)
	srv.startReading(s, conn, onFD, buffered(br))
}

func (srv *Server) closeOnReadError(s *Session, err error) {
	reason, frame := ReasonTransportError, closeNone
	switch {
	case errors.Is(err, errPeerClosed), errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
		reason = ReasonTransportClose
	case errors.Is(err, errFrameTooBig):
		reason, frame = ReasonParseError, closeTooBig
	case errors.Is(err, errBadFrame):
		reason, frame = ReasonParseError, closeProtocolError
	case errors.Is(err, errHandlerPanic):
		reason, frame = ReasonHandlerError, closeInternalError
	case errors.Is(err, ErrInvalidPacket):
		reason, frame = ReasonParseError, closeUnsupportedData
	}
	if reason != ReasonTransportClose {
		srv.stats.Errors.Add(1)
		srv.cfg.Logger.Debug("engineio: closing websocket", "sid", s.id, "err", err)
	}
	s.mu.Lock()
	if frame != closeNone && s.closeCode == closeNone {
		s.closeCode = frame
	}
	done := s.closeLocked(reason, nil)
	s.mu.Unlock()
	if done != nil {
		done()
	}
}

// rawFrame wraps an already encoded WebSocket frame (a control frame) so it
// can be queued like any message.
func rawFrame(frame []byte) *Message {
	m := &Message{Type: PacketNoop}
	m.frameOnce.Do(func() { m.frame = frame })
	return m
}

// frameReader reads client frames and reassembles fragmented messages.
type frameReader struct {
	r   io.Reader
	max int64
	hdr [ws.MaxHeaderSize]byte
}

// next returns the next complete data message (text or binary), answering
// pings through onPing on the way.
func (fr *frameReader) next(onPing func([]byte)) (ws.OpCode, []byte, error) {
	var (
		msg []byte
		op  ws.OpCode
		in  bool // inside a fragmented message
	)
	for {
		h, err := ws.ReadHeaderBuffer(fr.r, fr.hdr[:])
		if err != nil {
			return 0, nil, err
		}
		if h.Rsv != 0 || !h.Masked {
			return 0, nil, errBadFrame
		}
		if h.OpCode.IsControl() {
			if h.Length > 125 || !h.Fin {
				return 0, nil, errBadFrame
			}
			p, err := fr.payload(h)
			if err != nil {
				return 0, nil, err
			}
			switch h.OpCode {
			case ws.OpClose:
				return 0, nil, errPeerClosed
			case ws.OpPing:
				onPing(p)
			}
			continue
		}
		if int64(len(msg))+h.Length > fr.max {
			return 0, nil, errFrameTooBig
		}
		switch h.OpCode {
		case ws.OpText, ws.OpBinary:
			if in {
				return 0, nil, errBadFrame
			}
			op = h.OpCode
		case ws.OpContinuation:
			if !in {
				return 0, nil, errBadFrame
			}
		default:
			return 0, nil, errBadFrame
		}
		p, err := fr.payload(h)
		if err != nil {
			return 0, nil, err
		}
		if h.Fin && !in {
			return op, p, nil
		}
		msg = append(msg, p...)
		in = true
		if h.Fin {
			return op, msg, nil
		}
	}
}

func (fr *frameReader) payload(h ws.Header) ([]byte, error) {
	p := make([]byte, h.Length)
	if _, err := io.ReadFull(fr.r, p); err != nil {
		return nil, err
	}
	ws.Cipher(p, h.Mask, 0)
	return p, nil
}
