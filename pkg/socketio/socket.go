package socketio

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"

	"realtime/pkg/engineio"
)

// Disconnect reasons beyond the transport's own (engineio.Reason*).
const (
	ReasonClientDisconnect = "client namespace disconnect"
	ReasonServerDisconnect = "server namespace disconnect"
)

// ErrDisconnected is given to pending acknowledgement callbacks when the
// socket goes away before the client answered.
var ErrDisconnected = errors.New("socketio: socket disconnected")

// AckCallback receives the client's acknowledgement of a server emit.
type AckCallback func(resp *Event, err error)

// Socket is one client connected to one namespace.
type Socket struct {
	id     string
	nsp    *Namespace
	client *client

	mu      sync.Mutex
	data    any
	rooms   []string // few per socket: a slice is smaller than a map
	acks    map[int64]AckCallback
	nextAck uint32 // with gone, fits the struct in 96 bytes rather than 112
	gone    bool
}

func newSocketID() string {
	var b [15]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// ID returns the socket id sent to the client in the CONNECT reply.
func (s *Socket) ID() string { return s.id }

// Namespace returns the namespace the socket belongs to.
func (s *Socket) Namespace() *Namespace { return s.nsp }

// SessionID returns the id of the underlying Engine.IO session.
func (s *Socket) SessionID() string { return s.client.sess.ID() }

// Request returns the HTTP request that opened the connection.
func (s *Socket) Request() *http.Request { return s.client.sess.Request() }

// Transport returns "polling" or "websocket".
func (s *Socket) Transport() string { return s.client.sess.Transport() }

// SetData attaches an application value (such as the authenticated user).
func (s *Socket) SetData(v any) {
	s.mu.Lock()
	s.data = v
	s.mu.Unlock()
}

// Data returns the value given to SetData.
func (s *Socket) Data() any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.data
}

// Connected reports whether the socket is still in its namespace.
func (s *Socket) Connected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.gone
}

// Emit sends an event to this socket. Arguments of type json.RawMessage
// are sent as they are, []byte as binary attachments, anything else as its
// JSON encoding.
func (s *Socket) Emit(event string, args ...any) error {
	msgs, err := encodePacket(PacketEvent, s.nsp.name, noID, event, args, nil)
	if err != nil {
		return err
	}
	return s.Send(msgs)
}

// EmitRaw sends an event whose arguments are already JSON, with the binary
// attachments their placeholders refer to.
func (s *Socket) EmitRaw(event string, args []json.RawMessage, attachments [][]byte) error {
	msgs, err := encodePacket(PacketEvent, s.nsp.name, noID, event, rawArgs(args), attachments)
	if err != nil {
		return err
	}
	return s.Send(msgs)
}

// EmitWithAck sends an event and calls cb with the client's answer, or
// with ErrDisconnected if the socket leaves first. Callers that need a
// deadline enforce it themselves.
func (s *Socket) EmitWithAck(event string, cb AckCallback, args ...any) error {
	s.mu.Lock()
	if s.gone {
		s.mu.Unlock()
		return ErrDisconnected
	}
	id := int64(s.nextAck)
	s.nextAck++
	if s.acks == nil {
		s.acks = make(map[int64]AckCallback)
	}
	s.acks[id] = cb
	s.mu.Unlock()
	msgs, err := encodePacket(PacketEvent, s.nsp.name, id, event, args, nil)
	if err == nil {
		err = s.Send(msgs)
	}
	if err != nil {
		s.mu.Lock()
		delete(s.acks, id)
		s.mu.Unlock()
	}
	return err
}

// Send queues packets encoded once by Namespace.EncodeEvent.
func (s *Socket) Send(msgs []*engineio.Message) error {
	return s.client.sess.SendBatch(msgs...)
}

// Join adds the socket to rooms of its namespace.
func (s *Socket) Join(rooms ...string) {
	s.mu.Lock()
	if s.gone {
		s.mu.Unlock()
		return
	}
	n := s.nsp
	n.mu.Lock()
	for _, r := range rooms {
		if containsString(s.rooms, r) {
			continue
		}
		if name := n.joinLocked(r, s); name != "" {
			if s.rooms == nil {
				// A socket is usually in two rooms (its user's and a video's).
				s.rooms = make([]string, 0, 2)
			}
			s.rooms = append(s.rooms, name)
		}
	}
	n.mu.Unlock()
	s.mu.Unlock()
}

// Leave removes the socket from a room.
func (s *Socket) Leave(room string) {
	s.mu.Lock()
	for i, r := range s.rooms {
		if r == room {
			s.rooms = append(s.rooms[:i], s.rooms[i+1:]...)
			s.nsp.mu.Lock()
			s.nsp.leaveLocked(room, s)
			s.nsp.mu.Unlock()
			break
		}
	}
	s.mu.Unlock()
}

// Rooms returns the rooms the socket is in.
func (s *Socket) Rooms() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.rooms...)
}

// InRoom reports whether the socket is in room.
func (s *Socket) InRoom(room string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return containsString(s.rooms, room)
}

func containsString(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// Disconnect removes the socket from its namespace and tells the client,
// which will not reconnect to it by itself. The connection stays open for
// the client's other namespaces.
func (s *Socket) Disconnect() {
	b := appendHeader(nil, PacketDisconnect, 0, s.nsp.name, noID)
	_ = s.client.sess.Send(engineio.NewTextMessage(b))
	s.remove(ReasonServerDisconnect)
}

// remove takes the socket out of its client and namespace.
func (s *Socket) remove(reason string) {
	s.client.detach(s)
	s.closeWith(reason)
}

func (s *Socket) closeWith(reason string) {
	s.mu.Lock()
	if s.gone {
		s.mu.Unlock()
		return
	}
	s.gone = true
	rooms := s.rooms
	s.rooms = nil
	acks := s.acks
	s.acks = nil
	s.mu.Unlock()
	s.nsp.remove(s, rooms)
	for _, cb := range acks {
		cb(nil, ErrDisconnected)
	}
	s.nsp.disconnected(s, reason)
}

func (s *Socket) onEvent(p Packet, atts [][]byte) {
	args, err := decodeArgs(p.Data)
	if err != nil || len(args) == 0 {
		s.client.fail(ErrInvalidPacket)
		return
	}
	var name string
	if err := json.Unmarshal(args[0], &name); err != nil {
		s.client.fail(ErrInvalidPacket)
		return
	}
	s.nsp.dispatch(s, &Event{Name: name, Args: args[1:], Attachments: atts, socket: s, id: p.ID})
}

func (s *Socket) onAck(p Packet, atts [][]byte) {
	s.mu.Lock()
	cb := s.acks[p.ID]
	delete(s.acks, p.ID)
	s.mu.Unlock()
	if cb == nil {
		return // late or unknown: the caller stopped waiting
	}
	args, err := decodeArgs(p.Data)
	if err != nil {
		s.client.fail(ErrInvalidPacket)
		return
	}
	cb(&Event{Args: args, Attachments: atts, socket: s, id: noID}, nil)
}

// Event is an event received from a client, or a client's acknowledgement
// (then Name is empty).
type Event struct {
	Name        string
	Args        []json.RawMessage
	Attachments [][]byte // binary attachments referenced by placeholders in Args

	socket *Socket
	id     int64
	acked  atomic.Bool
}

// Socket returns the socket the event came from.
func (e *Event) Socket() *Socket { return e.socket }

// HasAck reports whether the client asked for an acknowledgement.
func (e *Event) HasAck() bool { return e.id != noID }

// ErrAcked is returned when an event is acknowledged twice or was sent
// without asking for an acknowledgement.
var ErrAcked = errors.New("socketio: no acknowledgement pending")

// Ack answers the client's acknowledgement callback with args.
func (e *Event) Ack(args ...any) error {
	return e.ack(args, nil)
}

// AckRaw answers with arguments that are already JSON, with attachments.
func (e *Event) AckRaw(args []json.RawMessage, attachments [][]byte) error {
	return e.ack(rawArgs(args), attachments)
}

func (e *Event) ack(args []any, atts [][]byte) error {
	if e.id == noID || !e.acked.CompareAndSwap(false, true) {
		return ErrAcked
	}
	msgs, err := encodePacket(PacketAck, e.socket.nsp.name, e.id, "", args, atts)
	if err != nil {
		return err
	}
	return e.socket.Send(msgs)
}

// Values returns the arguments ready to be passed on to Emit: an argument
// without binary data stays json.RawMessage (byte for byte); one that
// refers to attachments is decoded, with every placeholder, at any depth,
// replaced by its attachment ([]byte).
func (e *Event) Values() []any {
	out := make([]any, len(e.Args))
	for i, a := range e.Args {
		out[i] = a
		if len(e.Attachments) == 0 || !bytes.Contains(a, []byte(`"_placeholder"`)) {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(a))
		dec.UseNumber()
		var v any
		if dec.Decode(&v) == nil {
			if r, ok := reconstruct(v, e.Attachments); ok {
				out[i] = r
			}
		}
	}
	return out
}

// reconstruct replaces attachment placeholders in a decoded JSON value; it
// reports false for a placeholder that names no attachment.
func reconstruct(v any, atts [][]byte) (any, bool) {
	ok := true
	switch x := v.(type) {
	case map[string]any:
		if ph, _ := x["_placeholder"].(bool); ph && len(x) == 2 {
			n, isNum := x["num"].(json.Number)
			i, err := n.Int64()
			if !isNum || err != nil || i < 0 || i >= int64(len(atts)) {
				return v, false
			}
			return atts[i], true
		}
		for k, el := range x {
			var good bool
			x[k], good = reconstruct(el, atts)
			ok = ok && good
		}
	case []any:
		for i, el := range x {
			var good bool
			x[i], good = reconstruct(el, atts)
			ok = ok && good
		}
	}
	return v, ok
}

// deconstruct replaces []byte values inside maps and slices with
// placeholders, appending the bytes to atts in order.
func deconstruct(v any, atts [][]byte) (any, [][]byte) {
	switch x := v.(type) {
	case []byte:
		ph := map[string]any{"_placeholder": true, "num": len(atts)}
		return ph, append(atts, x)
	case map[string]any:
		// Keys in sorted order, as they are encoded: attachment numbers
		// then follow the order of the placeholders in the packet.
		out := make(map[string]any, len(x))
		for _, k := range slices.Sorted(maps.Keys(x)) {
			out[k], atts = deconstruct(x[k], atts)
		}
		return out, atts
	case []any:
		out := make([]any, len(x))
		for i, el := range x {
			out[i], atts = deconstruct(el, atts)
		}
		return out, atts
	}
	return v, atts
}

// hasBinary reports whether v holds a []byte inside maps and slices.
func hasBinary(v any) bool {
	switch x := v.(type) {
	case []byte:
		return true
	case map[string]any:
		for _, el := range x {
			if hasBinary(el) {
				return true
			}
		}
	case []any:
		for _, el := range x {
			if hasBinary(el) {
				return true
			}
		}
	}
	return false
}

func rawArgs(args []json.RawMessage) []any {
	out := make([]any, len(args))
	for i, a := range args {
		out[i] = a
	}
	return out
}

// encodePacket builds an EVENT or ACK (or their binary variants when there
// are attachments) as Engine.IO messages: the packet, then each attachment.
func encodePacket(t PacketType, nsp string, id int64, event string, args []any, atts [][]byte) ([]*engineio.Message, error) {
	binary := len(atts) > 0
	for _, a := range args {
		if hasBinary(a) {
			binary = true
			break
		}
	}
	if binary {
		t += PacketBinaryEvent - PacketEvent // EVENT→BINARY_EVENT, ACK→BINARY_ACK
	}
	// The header carries the attachment count, known once the arguments
	// are encoded: encode them first, then put the header in front.
	body, atts, err := appendArgs(make([]byte, 0, 64), event, args, atts)
	if err != nil {
		return nil, err
	}
	b := appendHeader(make([]byte, 0, len(body)+24), t, len(atts), nsp, id)
	b = append(b, body...)
	msgs := make([]*engineio.Message, 0, 1+len(atts))
	msgs = append(msgs, engineio.NewTextMessage(b))
	for _, a := range atts {
		msgs = append(msgs, engineio.NewBinaryMessage(a))
	}
	return msgs, nil
}
