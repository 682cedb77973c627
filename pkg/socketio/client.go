package socketio

import (
	"encoding/json"
	"errors"
	"sync"
	"time"

	"realtime/pkg/engineio"
)

// client is the Socket.IO side of one Engine.IO session: the namespaces it
// joined and a binary packet being reassembled.
type client struct {
	srv  *Server
	sess *engineio.Session

	mu           sync.Mutex
	sockets      []*Socket // one per joined namespace; usually one
	connectTimer *time.Timer
	closed       bool

	// A binary packet being reassembled; touched only by the reading
	// goroutine. Behind a pointer: most clients never send one.
	pending *binaryPacket
}

// binaryPacket is a binary packet waiting for its attachments.
type binaryPacket struct {
	p           Packet
	attachments [][]byte
}

// stopConnectTimerLocked stops the connect timer and lets it go: a
// connection that lives for hours should not keep a dead timer.
func (c *client) stopConnectTimerLocked() {
	if c.connectTimer != nil {
		c.connectTimer.Stop()
		c.connectTimer = nil
	}
}

func (c *client) onConnectTimeout() {
	c.mu.Lock()
	idle := len(c.sockets) == 0 && !c.closed
	c.mu.Unlock()
	if idle {
		c.sess.Close()
	}
}

func (c *client) socket(nsp string) *Socket {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.sockets {
		if s.nsp.name == nsp {
			return s
		}
	}
	return nil
}

// fail closes the connection after a protocol violation by the client.
func (c *client) fail(err error) {
	c.srv.eio.Stats().Errors.Add(1)
	c.srv.log.Debug("socketio: closing connection", "sid", c.sess.ID(), "err", err)
	c.sess.Close()
}

func (c *client) onMessage(data []byte, binary bool) {
	if binary {
		if c.pending == nil {
			c.fail(errors.New("unexpected binary attachment"))
			return
		}
		bp := c.pending
		bp.attachments = append(bp.attachments, data)
		if len(bp.attachments) == bp.p.Attachments {
			c.pending = nil
			c.dispatch(bp.p, bp.attachments)
		}
		return
	}
	if c.pending != nil {
		c.fail(errors.New("text packet while binary attachments are expected"))
		return
	}
	p, err := Decode(data)
	if err != nil {
		c.fail(err)
		return
	}
	if p.Attachments > 0 {
		c.pending = &binaryPacket{p: p, attachments: make([][]byte, 0, p.Attachments)}
		return
	}
	c.dispatch(p, nil)
}

func (c *client) dispatch(p Packet, atts [][]byte) {
	if p.Type == PacketConnect {
		c.connect(p)
		return
	}
	s := c.socket(p.Nsp)
	if s == nil {
		c.fail(errors.New("packet for a namespace the client has not joined"))
		return
	}
	switch p.Type {
	case PacketDisconnect:
		s.remove(ReasonClientDisconnect)
	case PacketEvent, PacketBinaryEvent:
		s.onEvent(p, atts)
	case PacketAck, PacketBinaryAck:
		s.onAck(p, atts)
	default:
		c.fail(ErrInvalidPacket)
	}
}

// ConnectError is an error a middleware may return to send data along
// with the message in the CONNECT_ERROR packet.
type ConnectError struct {
	Message string
	Data    any
}

func (e *ConnectError) Error() string { return e.Message }

func (c *client) connect(p Packet) {
	nsp := c.srv.namespace(p.Nsp)
	if nsp == nil {
		c.send(connectError(p.Nsp, &ConnectError{Message: "Invalid namespace"}))
		return
	}
	if c.socket(p.Nsp) != nil {
		c.fail(errors.New("second CONNECT to the same namespace"))
		return
	}
	s := &Socket{id: newSocketID(), nsp: nsp, client: c}
	if err := nsp.runMiddleware(s, p.Data); err != nil {
		c.send(connectError(p.Nsp, err))
		return
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.sockets = append(c.sockets, s)
	c.stopConnectTimerLocked()
	c.mu.Unlock()
	nsp.add(s)

	b := appendHeader(make([]byte, 0, 48), PacketConnect, 0, p.Nsp, noID)
	b = append(b, `{"sid":"`...)
	b = append(b, s.id...)
	b = append(b, `"}`...)
	c.send(engineio.NewTextMessage(b))
	nsp.connected(s)
}

func connectError(nsp string, err error) *engineio.Message {
	b := appendHeader(nil, PacketConnectError, 0, nsp, noID)
	b = append(b, `{"message":`...)
	b = appendJSONString(b, err.Error())
	var ce *ConnectError
	if errors.As(err, &ce) && ce.Data != nil {
		b = append(b, `,"data":`...)
		var merr error
		if b, merr = appendMarshal(b, ce.Data); merr != nil {
			b = append(b, "null"...)
		}
	}
	return engineio.NewTextMessage(append(b, '}'))
}

func (c *client) send(m *engineio.Message) { _ = c.sess.Send(m) }

func (c *client) detach(s *Socket) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, x := range c.sockets {
		if x == s {
			c.sockets = append(c.sockets[:i], c.sockets[i+1:]...)
			return
		}
	}
}

func (c *client) onClose(reason string) {
	c.mu.Lock()
	c.closed = true
	c.stopConnectTimerLocked()
	sockets := c.sockets
	c.sockets = nil
	c.mu.Unlock()
	for _, s := range sockets {
		s.closeWith(reason)
	}
}

// decodeArgs splits an event's JSON array into its elements.
func decodeArgs(data json.RawMessage) ([]json.RawMessage, error) {
	var args []json.RawMessage
	if err := json.Unmarshal(data, &args); err != nil {
		return nil, err
	}
	return args, nil
}
