package socketio

import (
	"encoding/json"
	"slices"
	"sync"

	"realtime/pkg/engineio"
)

// Middleware runs when a client asks to join a namespace, with the auth
// payload of its CONNECT packet (nil when it sent none). A non-nil error
// refuses the connection with a CONNECT_ERROR carrying err.Error().
type Middleware func(s *Socket, auth json.RawMessage) error

// EventHandler handles one event from a client. It runs on the goroutine
// reading that client's connection, so events of one client are handled
// in the order they were sent.
type EventHandler func(s *Socket, ev *Event)

// Namespace is a Socket.IO namespace: its handlers, sockets and rooms.
// Handlers are registered on the namespace, not on each socket, so a
// connection costs no per-handler memory.
type Namespace struct {
	srv  *Server
	name string

	hmu          sync.RWMutex
	middleware   []Middleware
	onConnect    func(*Socket)
	onDisconnect func(*Socket, string)
	handlers     map[string]EventHandler
	unknown      EventHandler

	mu      sync.RWMutex
	sockets map[string]*Socket
	rooms   map[string]*room
}

func newNamespace(srv *Server, name string) *Namespace {
	return &Namespace{
		srv:      srv,
		name:     name,
		handlers: make(map[string]EventHandler),
		sockets:  make(map[string]*Socket),
		rooms:    make(map[string]*room),
	}
}

// Name returns the namespace name, such as "/" or "/custom".
func (n *Namespace) Name() string { return n.name }

// Use adds a connect middleware; middlewares run in the order added.
func (n *Namespace) Use(mw Middleware) {
	n.hmu.Lock()
	n.middleware = append(n.middleware, mw)
	n.hmu.Unlock()
}

// OnConnect sets the function called after a socket has joined.
func (n *Namespace) OnConnect(fn func(s *Socket)) {
	n.hmu.Lock()
	n.onConnect = fn
	n.hmu.Unlock()
}

// OnDisconnect sets the function called when a socket has left, with the
// reason ("client namespace disconnect", "transport close", "ping timeout"…).
func (n *Namespace) OnDisconnect(fn func(s *Socket, reason string)) {
	n.hmu.Lock()
	n.onDisconnect = fn
	n.hmu.Unlock()
}

// On sets the handler of an event.
func (n *Namespace) On(event string, h EventHandler) {
	n.hmu.Lock()
	n.handlers[event] = h
	n.hmu.Unlock()
}

// OnUnknown sets the handler of events that have no handler of their own.
func (n *Namespace) OnUnknown(h EventHandler) {
	n.hmu.Lock()
	n.unknown = h
	n.hmu.Unlock()
}

func (n *Namespace) runMiddleware(s *Socket, auth json.RawMessage) error {
	n.hmu.RLock()
	mws := n.middleware
	n.hmu.RUnlock()
	for _, mw := range mws {
		if err := mw(s, auth); err != nil {
			return err
		}
	}
	return nil
}

func (n *Namespace) connected(s *Socket) {
	n.hmu.RLock()
	fn := n.onConnect
	n.hmu.RUnlock()
	if fn != nil {
		fn(s)
	}
}

func (n *Namespace) dispatch(s *Socket, ev *Event) {
	n.hmu.RLock()
	h, ok := n.handlers[ev.Name]
	if !ok {
		h = n.unknown
	}
	n.hmu.RUnlock()
	if h != nil {
		h(s, ev)
	}
}

func (n *Namespace) add(s *Socket) {
	n.mu.Lock()
	n.sockets[s.id] = s
	n.mu.Unlock()
}

// remove drops s from the namespace and every room it was in.
func (n *Namespace) remove(s *Socket, rooms []string) {
	n.mu.Lock()
	delete(n.sockets, s.id)
	for _, r := range rooms {
		n.leaveLocked(r, s)
	}
	n.mu.Unlock()
}

func (n *Namespace) leaveLocked(name string, s *Socket) {
	if r := n.rooms[name]; r != nil {
		r.remove(s)
		if r.len() == 0 {
			delete(n.rooms, name)
		}
	}
}

// joinLocked adds s to the room called name and returns the room's shared
// copy of the name (a video room's name is then stored once, not once per
// viewer), or "" if s was in it already.
func (n *Namespace) joinLocked(name string, s *Socket) string {
	r := n.rooms[name]
	if r == nil {
		r = &room{name: name}
		n.rooms[name] = r
	}
	if !r.add(s) {
		return ""
	}
	return r.name
}

// inRoomLocked reports whether s is in the room called name.
func (n *Namespace) inRoomLocked(name string, s *Socket) bool {
	r := n.rooms[name]
	return r != nil && r.has(s)
}

func (n *Namespace) disconnected(s *Socket, reason string) {
	n.hmu.RLock()
	fn := n.onDisconnect
	n.hmu.RUnlock()
	if fn != nil {
		fn(s, reason)
	}
}

// Socket returns the connected socket with the given id, or nil.
func (n *Namespace) Socket(id string) *Socket {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.sockets[id]
}

// Len returns the number of connected sockets.
func (n *Namespace) Len() int {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return len(n.sockets)
}

// RoomLen returns the number of local sockets in a room.
func (n *Namespace) RoomLen(room string) int {
	n.mu.RLock()
	defer n.mu.RUnlock()
	if r := n.rooms[room]; r != nil {
		return r.len()
	}
	return 0
}

// Emit sends an event to every socket of the namespace.
func (n *Namespace) Emit(event string, args ...any) error {
	return (&Broadcast{nsp: n}).Emit(event, args...)
}

// To starts a broadcast to the sockets in any of the given rooms.
func (n *Namespace) To(rooms ...string) *Broadcast {
	return &Broadcast{nsp: n, rooms: rooms}
}

// Broadcast selects recipients among the namespace's sockets.
type Broadcast struct {
	nsp    *Namespace
	rooms  []string
	except []string
}

// To adds rooms to the selection.
func (b *Broadcast) To(rooms ...string) *Broadcast {
	b.rooms = append(b.rooms, rooms...)
	return b
}

// Except leaves out sockets in the given rooms or with the given socket ids.
func (b *Broadcast) Except(roomsOrIDs ...string) *Broadcast {
	b.except = append(b.except, roomsOrIDs...)
	return b
}

// Emit encodes the event once and queues the same bytes to every
// selected socket. It returns the encoding error, if any; a recipient that
// has gone away is skipped.
func (b *Broadcast) Emit(event string, args ...any) error {
	msgs, err := encodePacket(PacketEvent, b.nsp.name, noID, event, args, nil)
	if err != nil {
		return err
	}
	b.Send(msgs)
	return nil
}

// Send queues already encoded packets (from EncodeEvent) to every selected
// socket and returns how many sockets they were queued to.
//
// The recipients are collected under the namespace's read lock into a
// pooled slice and sent to after it is released. Sending under the lock
// would save the copy but is not safe: a send can close its session (slow
// consumer), and the close callback removes the socket from the namespace
// with the write lock, which would deadlock against the read lock held by
// the same goroutine (and a waiting writer would stall every broadcast).
func (b *Broadcast) Send(msgs []*engineio.Message) int {
	p := targetPool.Get().(*[]*Socket)
	out := b.targets((*p)[:0])
	n := 0
	for _, s := range out {
		if s.client.sess.SendBatch(msgs...) == nil {
			n++
		}
	}
	clear(out) // the pool must not keep sockets alive
	if cap(out) <= maxPooledTargets {
		*p = out[:0]
		targetPool.Put(p)
	}
	return n
}

// targetPool holds recipient slices for Broadcast.Send; one larger than
// maxPooledTargets is left to the collector rather than kept.
var targetPool = sync.Pool{New: func() any { return new([]*Socket) }}

const maxPooledTargets = 1 << 16

// targets appends the selected sockets to out.
func (b *Broadcast) targets(out []*Socket) []*Socket {
	n := b.nsp
	n.mu.RLock()
	defer n.mu.RUnlock()
	excluded := func(s *Socket) bool {
		for _, e := range b.except {
			if s.id == e {
				return true
			}
			if n.inRoomLocked(e, s) {
				return true
			}
		}
		return false
	}
	if len(b.rooms) == 0 {
		out = slices.Grow(out, len(n.sockets))
		for _, s := range n.sockets {
			if !excluded(s) {
				out = append(out, s)
			}
		}
		return out
	}
	if len(b.rooms) == 1 {
		r := n.rooms[b.rooms[0]]
		if r == nil {
			return out
		}
		start := len(out)
		out = r.appendTo(slices.Grow(out, r.len()))
		if len(b.except) > 0 {
			kept := slices.DeleteFunc(out[start:], excluded)
			out = out[:start+len(kept)]
		}
		return out
	}
	seen := make(map[*Socket]struct{})
	var members []*Socket
	for _, name := range b.rooms {
		r := n.rooms[name]
		if r == nil {
			continue
		}
		members = r.appendTo(members[:0])
		for _, s := range members {
			if _, dup := seen[s]; dup || excluded(s) {
				continue
			}
			seen[s] = struct{}{}
			out = append(out, s)
		}
	}
	return out
}

// EncodeEvent encodes an event for this namespace once, for Broadcast.Send
// or Socket.Send, so that a message fanned out to many sockets is encoded
// a single time.
func (n *Namespace) EncodeEvent(event string, args ...any) ([]*engineio.Message, error) {
	return encodePacket(PacketEvent, n.name, noID, event, args, nil)
}
