// Package ports holds the inbound side of presence: one Watermill handler
// per trigger topic. A handler decodes the domain event, checks the fields
// its use case needs, and calls the app. Event types on the topic that
// belong to another worker are acknowledged and ignored.
//
// Redeliveries (the same event id again) are dropped where handling an
// event twice would show: a heartbeat (it renews a lease and feeds the
// expiry guard) and a progress report (it syncs the user's other devices)
// go through the dedupe store, a join through the state store, which
// records its id in the same step as the join (the joiner is answered
// once). session.opened, session.closed and the leaves skip that lookup
// and mark, two round trips each: they are idempotent by construction (a
// socket recorded again, a socket closed again, a socket leaving a room it
// is not in change nothing, and the closed markers and event times keep a
// late duplicate from undoing a newer event), and they send nothing but
// coalesced count broadcasts, which follow actual changes only.
package ports

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"realtime/contracts"
	"realtime/pkg/bus"
	"realtime/services/presence/internal/app"
	"realtime/services/presence/internal/domain"
)

// Trigger is one handler: its name (also its consumer group), the topic it
// consumes and the function that handles each message.
type Trigger struct {
	Name   string
	Topic  string
	Handle message.NoPublishHandlerFunc
	// InFlight, if above 1, lets that many events of one partition be
	// handled at once (bus.SubscriberInFlight); the events of one socket
	// (OrderKey) still keep their order. Otherwise a partition's events are
	// handled one at a time, in order.
	InFlight int
	OrderKey func(*message.Message) string
}

// inFlight is how many events of one partition are handled at once. The
// topics are keyed by edge (realtime.sessions) or by video: one at a time,
// an edge's burst of session.opened (one per connection) or a popular
// video's burst of joins would be applied at the pace of one state-store
// round trip after the other, and an edge's heartbeats would wait behind
// its sessions. Events of different sockets may be applied in any order:
// each changes its own socket's membership (counts are set sizes), and a
// heartbeat sent before the last one applied is ignored (its send time).
// The events of one socket keep their order (SocketOrder), although the
// state store copes with most reorderings anyway (closed markers, event
// times), since a socket's sessions and memberships travel on different
// topics: a leave and a join of one room stamped in the same millisecond
// are the case it cannot tell apart.
const inFlight = 32

// SocketOrder is the order key of the in-flight handlers: the socket the
// event is about ("" for a heartbeat: no order), or for a video.progress
// (accepted on realtime.video too) its user, whose latest position wins.
// An undecodable payload has none; its handler parks it.
func SocketOrder(msg *message.Message) string {
	var ev struct {
		Type     string `json:"type"`
		SocketID string `json:"socketId"`
		UserID   string `json:"userId"`
	}
	_ = json.Unmarshal(msg.Payload, &ev)
	if ev.Type == contracts.DomainVideoProgress && ev.UserID != "" {
		return "user:" + ev.UserID
	}
	if ev.SocketID == "" {
		return ""
	}
	return "socket:" + ev.SocketID
}

// Handlers turns domain events into presence use cases.
type Handlers struct {
	app    *app.App
	dedupe bus.DedupeStore
	opts   []bus.DedupeOption
}

// NewHandlers returns the handlers over a. dedupe remembers the ids of the
// handled heartbeats and progress reports (see the package comment); nil
// drops no redelivery of those.
func NewHandlers(a *app.App, dedupe bus.DedupeStore, opts ...bus.DedupeOption) *Handlers {
	return &Handlers{app: a, dedupe: dedupe, opts: opts}
}

// once handles msg with handle unless its id was handled already.
func (h *Handlers) once(msg *message.Message, handle func() error) error {
	if h.dedupe == nil {
		return handle()
	}
	return bus.Once(msg.Context(), h.dedupe, msg.UUID, handle, h.opts...)
}

// Triggers lists the presence handlers, one per topic.
func (h *Handlers) Triggers() []Trigger {
	return []Trigger{
		{Name: "presence.sessions", Topic: contracts.TopicSessions, Handle: h.Sessions, InFlight: inFlight, OrderKey: SocketOrder},
		{Name: "presence.video", Topic: contracts.TopicVideo, Handle: h.Video, InFlight: inFlight, OrderKey: SocketOrder},
		{Name: "presence.chat", Topic: contracts.TopicChat, Handle: h.Chat, InFlight: inFlight, OrderKey: SocketOrder},
		{Name: "presence.user", Topic: contracts.TopicUser, Handle: h.User},
	}
}

// Sessions handles realtime.sessions: session.opened, session.closed and
// edge.heartbeat.
func (h *Handlers) Sessions(msg *message.Message) error {
	ev, err := decode(msg)
	if err != nil {
		return err
	}
	ctx := msg.Context()
	switch ev.Type {
	case contracts.DomainSessionOpened:
		if err := require(ev, ev.SocketID != "", "socketId"); err != nil {
			return err
		}
		return h.app.OpenSession(ctx, origin(ev))
	case contracts.DomainSessionClosed:
		if err := require(ev, ev.SocketID != "", "socketId"); err != nil {
			return err
		}
		return h.app.CloseSession(ctx, origin(ev))
	case contracts.DomainEdgeHeartbeat:
		if err := require(ev, ev.TTLMs >= 0, "a valid ttlMs"); err != nil {
			return err
		}
		return h.once(msg, func() error {
			return h.app.Heartbeat(ctx, ev.EdgeID, time.Duration(ev.TTLMs)*time.Millisecond, time.UnixMilli(ev.OccurredAt))
		})
	}
	return nil
}

// Video handles realtime.video: video.joined and video.left. It also
// accepts video.progress, whose contract topic is realtime.user.
func (h *Handlers) Video(msg *message.Message) error {
	ev, err := decode(msg)
	if err != nil {
		return err
	}
	switch ev.Type {
	case contracts.DomainVideoJoined, contracts.DomainVideoLeft:
		return h.membership(msg, ev, domain.VideoRoom(ev.VideoID), ev.Type == contracts.DomainVideoJoined)
	case contracts.DomainVideoProgress:
		return h.progress(msg, ev)
	}
	return nil
}

// Chat handles realtime.chat: chat.joined and chat.left. Messages and
// typing indicators on the same topic belong to the chat worker.
func (h *Handlers) Chat(msg *message.Message) error {
	ev, err := decode(msg)
	if err != nil {
		return err
	}
	switch ev.Type {
	case contracts.DomainChatJoined, contracts.DomainChatLeft:
		return h.membership(msg, ev, domain.ChatRoom(ev.VideoID), ev.Type == contracts.DomainChatJoined)
	}
	return nil
}

// User handles realtime.user: video.progress. Notification subscriptions
// and reads on the same topic belong to the notify worker.
func (h *Handlers) User(msg *message.Message) error {
	ev, err := decode(msg)
	if err != nil {
		return err
	}
	if ev.Type == contracts.DomainVideoProgress {
		return h.progress(msg, ev)
	}
	return nil
}

func (h *Handlers) membership(msg *message.Message, ev *contracts.DomainEvent, room domain.Room, join bool) error {
	if err := require(ev, ev.SocketID != "" && ev.VideoID != "", "socketId and videoId"); err != nil {
		return err
	}
	at := time.UnixMilli(ev.OccurredAt)
	if join {
		o := origin(ev)
		if h.dedupe != nil {
			o.EventID = msg.UUID
		}
		return h.app.Join(msg.Context(), o, room, at)
	}
	return h.app.Leave(msg.Context(), origin(ev), room, at)
}

func (h *Handlers) progress(msg *message.Message, ev *contracts.DomainEvent) error {
	if err := require(ev, ev.VideoID != "" && ev.Position != nil && *ev.Position >= 0, "videoId and position ≥ 0"); err != nil {
		return err
	}
	return h.once(msg, func() error {
		return h.app.Progress(msg.Context(), origin(ev), ev.VideoID, *ev.Position)
	})
}

// decode reads a domain event. An event that breaks its contract can never
// succeed: its error is permanent, so the router parks it on the poison
// queue without retrying.
func decode(msg *message.Message) (*contracts.DomainEvent, error) {
	var ev contracts.DomainEvent
	if err := json.Unmarshal(msg.Payload, &ev); err != nil {
		return nil, bus.Permanent(fmt.Errorf("presence: undecodable domain event: %w", err))
	}
	return &ev, nil
}

// require returns a permanent error if the event has no edgeId or ok is
// false. Only the types presence handles are checked: the others belong to
// another worker, which judges them.
func require(ev *contracts.DomainEvent, ok bool, fields string) error {
	if ev.EdgeID != "" && ok {
		return nil
	}
	return bus.Permanent(fmt.Errorf("presence: %s event %s lacks edgeId or %s", ev.Type, ev.ID, fields))
}

// origin is the event's socket; an anonymous session has no user even if
// the event names one.
func origin(ev *contracts.DomainEvent) app.Origin {
	o := app.Origin{EdgeID: ev.EdgeID, SocketID: ev.SocketID, UserID: ev.UserID}
	if ev.Anonymous != nil && *ev.Anonymous {
		o.UserID = ""
	}
	return o
}
