// Package adapters connects the edge to the bus: fan-out messages in,
// delivered to the local sockets they target.
package adapters

import (
	"encoding/json"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/ThreeDotsLabs/watermill/message"

	"realtime/contracts"
	"realtime/pkg/socketio"
)

// Delivery hands fan-out messages to local sockets. Each message is
// encoded once and the same bytes are queued to every local recipient.
type Delivery struct {
	nsp  *socketio.Namespace
	seen *recentIDs
	log  *slog.Logger

	Delivered atomic.Int64 // socket deliveries
	Malformed atomic.Int64 // messages that could not be decoded
}

// NewDelivery delivers to the sockets of nsp, dropping a message whose id
// was among the last dedupeWindow seen (at-least-once upstream, exactly
// once to the client).
func NewDelivery(nsp *socketio.Namespace, dedupeWindow int, log *slog.Logger) *Delivery {
	return &Delivery{nsp: nsp, seen: newRecentIDs(dedupeWindow), log: log}
}

// Handle is the Watermill handler of the fan-out topic. It never asks for
// a redelivery: a message that cannot be decoded will not decode later.
func (d *Delivery) Handle(msg *message.Message) error {
	var m contracts.FanoutMessage
	if err := json.Unmarshal(msg.Payload, &m); err != nil || m.Event == "" {
		d.Malformed.Add(1)
		d.log.Warn("dropping malformed fan-out message", "uuid", msg.UUID, "error", err)
		return nil
	}
	if d.seen.check(m.ID) {
		return nil
	}
	msgs, err := d.nsp.EncodeEvent(m.Event, m.Data)
	if err != nil {
		d.Malformed.Add(1)
		d.log.Warn("dropping unencodable fan-out message", "id", m.ID, "error", err)
		return nil
	}
	if m.Volatile || volatileEvents[m.Event] {
		for _, em := range msgs {
			em.Volatile = true
		}
	}
	var n int
	switch m.Target.Kind {
	case contracts.TargetSocket:
		s := d.nsp.Socket(m.Target.SocketID)
		if s != nil && !excluded(s, m.Except) && s.Send(msgs) == nil {
			n = 1
		}
	case contracts.TargetRoom, contracts.TargetUser, contracts.TargetAll:
		b := d.nsp.To()
		switch m.Target.Kind {
		case contracts.TargetRoom:
			b = d.nsp.To(m.Target.Room)
		case contracts.TargetUser:
			b = d.nsp.To(contracts.UserRoom(m.Target.UserID))
		}
		if m.Except != nil {
			if m.Except.SocketID != "" {
				b = b.Except(m.Except.SocketID)
			}
			if m.Except.UserID != "" {
				b = b.Except(contracts.UserRoom(m.Except.UserID))
			}
		}
		n = b.Send(msgs)
	default:
		d.Malformed.Add(1)
		d.log.Warn("dropping fan-out message with unknown target", "id", m.ID, "kind", m.Target.Kind)
		return nil
	}
	d.Delivered.Add(int64(n))
	return nil
}

// volatileEvents are the server events whose next occurrence supersedes
// the last (counts, typing indicators): a client whose send queue is
// backed up loses these first (engineio.Message.Volatile), even when a
// producer did not flag the fan-out message itself. Chat messages,
// notifications and sync stay reliable.
var volatileEvents = map[string]bool{
	contracts.ServerVideoViewers:  true,
	contracts.ServerChatUserCount: true,
	contracts.ServerChatTyping:    true,
}

func excluded(s *socketio.Socket, ex *contracts.Except) bool {
	if ex == nil {
		return false
	}
	return ex.SocketID == s.ID() || (ex.UserID != "" && s.InRoom(contracts.UserRoom(ex.UserID)))
}

// recentIDs remembers the last n ids in a ring.
type recentIDs struct {
	mu   sync.Mutex
	set  map[string]struct{}
	ring []string
	next int
}

func newRecentIDs(n int) *recentIDs {
	if n < 1 {
		n = 1
	}
	return &recentIDs{set: make(map[string]struct{}, n), ring: make([]string, n)}
}

// check records id and reports whether it was already there.
func (r *recentIDs) check(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.set[id]; dup {
		return true
	}
	if old := r.ring[r.next]; old != "" {
		delete(r.set, old)
	}
	r.ring[r.next] = id
	r.set[id] = struct{}{}
	r.next = (r.next + 1) % len(r.ring)
	return false
}
