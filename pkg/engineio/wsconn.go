package engineio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"

	"github.com/gobwas/ws"
)

// An idle WebSocket session holds no goroutine and no read buffer: a few
// poller goroutines owned by the Server wait for readiness of every
// connection (see poller_linux.go), read what arrived into a buffer shared
// by all the connections of the poller, and feed it to the connection's
// frameParser, which keeps only the bytes of an incomplete frame (usually
// none). Complete messages are then applied on a goroutine that exists only
// while there is something to apply, like the writer in flushWebSocket, so
// that a handler waiting on the network (a bus publish) never holds up the
// other connections of its poller. While that goroutine runs, the
// connection is not read at all: a client that sends faster than its
// handler keeps up is slowed down by TCP, as with a blocking reader.

// errPollerClosed fails a connection that arrives once the pollers are
// stopped.
var errPollerClosed = errors.New("engineio: server closed")

// wsEvent is one thing read from a client: a complete data message (text or
// binary) or a ping to answer. data is owned by the event.
type wsEvent struct {
	op   ws.OpCode
	data []byte
}

// frameParser is an incremental reader of client frames: it takes the bytes
// of the stream in pieces of any size and returns complete messages,
// reassembling fragmented ones. It enforces the same rules as frameReader.
//
// Between complete frames, which is how an idle connection always is, it
// keeps nothing: its state lives in a parseState allocated only while a
// frame or a fragmented message is incomplete, so that it costs an idle
// session one pointer.
type frameParser struct {
	st *parseState
}

// parseState is what a frameParser keeps between reads.
type parseState struct {
	partial []byte    // bytes of the incomplete frame, header included
	h       ws.Header // header of partial, once complete
	hl      int       // length of that header; 0 while incomplete

	msg []byte    // fragmented message being reassembled
	op  ws.OpCode // its opcode
	in  bool      // inside a fragmented message
}

// idle reports whether st keeps nothing.
func (st *parseState) idle() bool { return len(st.partial) == 0 && !st.in }

// feed parses b, appending to dst every complete message and every ping
// found; no message may exceed max bytes. It never keeps a reference to b.
// After an error the stream is unusable; the events before it are valid.
func (p *frameParser) feed(dst []wsEvent, b []byte, max int64) ([]wsEvent, error) {
	if p.st != nil {
		dst, err := p.st.feed(dst, b, max)
		if p.st.idle() {
			p.st = nil
		}
		return dst, err
	}
	// Usually b ends on a frame boundary and nothing is left to keep: the
	// state is then never on the heap.
	var st parseState
	dst, err := st.feed(dst, b, max)
	if !st.idle() {
		kept := st
		p.st = &kept
	}
	return dst, err
}

// partialCap bounds the first allocation for an incomplete frame, so that a
// peer announcing a large frame without sending it does not make the server
// allocate the whole announced length up front.
const partialCap = 64 << 10

// headerLen returns the length of the header whose second byte is b1.
func headerLen(b1 byte) int {
	n := 2
	if b1&0x80 != 0 {
		n += 4
	}
	switch b1 & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	return n
}

// parseHeader decodes a header from b, which holds at least headerLen bytes.
// A 64-bit length with its most significant bit set yields Length -1.
func parseHeader(b []byte) (ws.Header, int) {
	h := ws.Header{
		Fin:    b[0]&0x80 != 0,
		Rsv:    (b[0] & 0x70) >> 4,
		OpCode: ws.OpCode(b[0] & 0x0f),
		Masked: b[1]&0x80 != 0,
	}
	i := 2
	switch l := b[1] & 0x7f; l {
	case 126:
		h.Length = int64(binary.BigEndian.Uint16(b[2:4]))
		i = 4
	case 127:
		v := binary.BigEndian.Uint64(b[2:10])
		if v&(1<<63) != 0 {
			h.Length = -1
		} else {
			h.Length = int64(v)
		}
		i = 10
	default:
		h.Length = int64(l)
	}
	if h.Masked {
		copy(h.Mask[:], b[i:i+4])
		i += 4
	}
	return h, i
}

// check applies the protocol rules that can be decided from a header alone,
// before any of the payload is kept.
func (p *parseState) check(h ws.Header, max int64) error {
	if h.Rsv != 0 || !h.Masked || h.Length < 0 {
		return errBadFrame
	}
	if h.OpCode.IsControl() {
		if h.Length > 125 || !h.Fin {
			return errBadFrame
		}
		return nil
	}
	if int64(len(p.msg))+h.Length > max {
		return errFrameTooBig
	}
	switch h.OpCode {
	case ws.OpText, ws.OpBinary:
		if p.in {
			return errBadFrame
		}
	case ws.OpContinuation:
		if !p.in {
			return errBadFrame
		}
	default:
		return errBadFrame
	}
	return nil
}

// feed is frameParser.feed on the state kept so far.
func (p *parseState) feed(dst []wsEvent, b []byte, max int64) ([]wsEvent, error) {
	var err error
	for {
		if len(p.partial) == 0 {
			if len(b) == 0 {
				return dst, nil
			}
			if len(b) < 2 || len(b) < headerLen(b[1]) {
				p.partial = append(make([]byte, 0, ws.MaxHeaderSize), b...)
				return dst, nil
			}
			h, hl := parseHeader(b)
			if err = p.check(h, max); err != nil {
				return dst, err
			}
			total := hl + int(h.Length)
			if len(b) < total {
				p.partial = make([]byte, len(b), min(total, len(b)+partialCap))
				copy(p.partial, b)
				p.h, p.hl = h, hl
				return dst, nil
			}
			if dst, err = p.frame(dst, h, b[hl:total], false); err != nil {
				return dst, err
			}
			b = b[total:]
			continue
		}
		if p.hl == 0 {
			need := 2
			if len(p.partial) >= 2 {
				need = headerLen(p.partial[1])
			}
			if len(p.partial) < need {
				if len(b) == 0 {
					return dst, nil
				}
				n := min(need-len(p.partial), len(b))
				p.partial = append(p.partial, b[:n]...)
				b = b[n:]
				continue
			}
			h, hl := parseHeader(p.partial)
			if err = p.check(h, max); err != nil {
				return dst, err
			}
			p.h, p.hl = h, hl
			if total := hl + int(h.Length); cap(p.partial) < total {
				grown := make([]byte, len(p.partial), min(total, len(p.partial)+len(b)+partialCap))
				copy(grown, p.partial)
				p.partial = grown
			}
		}
		total := p.hl + int(p.h.Length)
		if len(p.partial) < total {
			if len(b) == 0 {
				return dst, nil
			}
			n := min(total-len(p.partial), len(b))
			p.partial = append(p.partial, b[:n]...)
			b = b[n:]
			continue
		}
		frame, h, hl := p.partial, p.h, p.hl
		p.partial, p.hl = nil, 0
		if dst, err = p.frame(dst, h, frame[hl:total], true); err != nil {
			return dst, err
		}
	}
}

// frame applies one complete frame; owned says whether payload may be kept
// (it was allocated for this frame) or must be copied.
func (p *parseState) frame(dst []wsEvent, h ws.Header, payload []byte, owned bool) ([]wsEvent, error) {
	ws.Cipher(payload, h.Mask, 0)
	if h.OpCode.IsControl() {
		switch h.OpCode {
		case ws.OpClose:
			return dst, errPeerClosed
		case ws.OpPing:
			if !owned {
				payload = bytes.Clone(payload)
			}
			return append(dst, wsEvent{op: ws.OpPing, data: payload}), nil
		}
		return dst, nil
	}
	if h.Fin && !p.in {
		if !owned {
			payload = bytes.Clone(payload)
		}
		return append(dst, wsEvent{op: h.OpCode, data: payload}), nil
	}
	if !p.in {
		p.op, p.in = h.OpCode, true
	}
	p.msg = append(p.msg, payload...)
	if h.Fin {
		dst = append(dst, wsEvent{op: p.op, data: p.msg})
		p.msg, p.in = nil, false
	}
	return dst, nil
}

// The read side of a session on WebSocket is part of the Session (rp, rid,
// rdead, fp): a poller watches s.fd (poller_linux.go) or, for a net.Conn,
// a goroutine of its own reads it (readLoop). What one read produced is
// handed to the goroutine applying it as the arguments of that goroutine,
// not kept in the session.

// startReading attaches the read side to a session now on WebSocket: a
// poller reads s.fd when onFD is set, a goroutine of its own reads conn
// otherwise. initial holds bytes the client sent along with the last
// request or frame read before (it may be nil); it is parsed first.
func (srv *Server) startReading(s *Session, conn net.Conn, onFD bool, initial []byte) {
	var p *poller
	if onFD {
		p = srv.pollerFor()
	}
	s.mu.Lock()
	s.rp = p // read by detach, under mu, and by the reading goroutines
	s.mu.Unlock()
	if len(initial) > 0 {
		evs, err := s.fp.feed(nil, initial, int64(srv.cfg.MaxPayload))
		if !s.handleRead(evs, err) {
			return
		}
	}
	if p == nil {
		if onFD {
			s.readFailed(errPollerClosed) // shutting down
			return
		}
		go s.readLoop(conn)
		return
	}
	if err := p.add(s); err != nil {
		s.readFailed(err)
	}
}

// runRead applies what the poller read, then lets the poller read again.
func (s *Session) runRead(evs []wsEvent, err error) {
	if s.handleRead(evs, err) {
		s.rp.arm(s)
	}
}

// handlePongs handles evs on the caller's goroutine if they are all
// Engine.IO pongs, and reports whether it did. A pong only moves the
// session's heartbeat (a lock, no handler, nothing that can block), and
// every client sends one per PingInterval: 19,000 idle connections meant
// 19,000 goroutines started, and their stacks grown, every 25 seconds,
// which showed as megabytes of stacks in an idle edge.
func (s *Session) handlePongs(evs []wsEvent) bool {
	for _, e := range evs {
		if e.op != ws.OpText || len(e.data) != 1 || e.data[0] != byte(PacketPong) {
			return false
		}
	}
	for range evs {
		s.srv.stats.BytesIn.Add(1)
		s.srv.stats.PacketsIn.Add(1)
		s.onPong()
	}
	return true
}

// handleRead applies evs in order, then err if not nil. It reports whether
// the connection is to be read further.
func (s *Session) handleRead(evs []wsEvent, err error) bool {
	for _, e := range evs {
		if e.op == ws.OpPing {
			_ = s.Send(rawFrame(ws.MustCompileFrame(ws.NewPongFrame(e.data))))
			continue
		}
		s.srv.stats.BytesIn.Add(int64(len(e.data)))
		var (
			p    Packet
			perr error
		)
		if e.op == ws.OpBinary {
			p = Packet{Type: PacketMessage, Binary: true, Data: e.data}
		} else if p, perr = DecodePacket(e.data, false); perr != nil {
			s.readFailed(perr)
			return false
		}
		if perr := s.handlePacket(p); perr != nil {
			s.readFailed(perr)
			return false
		}
	}
	if err != nil {
		s.readFailed(err)
		return false
	}
	return true
}

// readFailed stops reading and closes the session for a read error.
func (s *Session) readFailed(err error) {
	s.detach()
	s.srv.closeOnReadError(s, err)
}

// detach stops readiness notifications for the connection; the owner of
// the connection calls it before closing it. It may be called more than
// once.
func (s *Session) detach() {
	if s.rp != nil {
		s.rp.remove(s)
	}
}

// readLoop reads conn with a goroutine of its own, for connections a
// poller cannot watch.
func (s *Session) readLoop(conn net.Conn) {
	buf := make([]byte, readBufferBytes)
	max := int64(s.srv.cfg.MaxPayload)
	for {
		n, err := conn.Read(buf)
		var evs []wsEvent
		var perr error
		if n > 0 {
			evs, perr = s.fp.feed(nil, buf[:n], max)
		}
		if perr == nil && err != nil {
			perr = err
		}
		if !s.handleRead(evs, perr) {
			return
		}
	}
}
