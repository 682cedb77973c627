package ports

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"realtime/contracts"
	"realtime/pkg/socketio"
	"realtime/services/edge/internal/app"
)

// publishTimeout bounds how long a client event may wait for the bus.
const publishTimeout = 5 * time.Second

// EventHandlers turn the client→server events of the contract into use
// cases: validate the payload against contracts/, update the socket's
// local rooms, publish the domain event, answer the ack. Membership events
// (joins, leaves, sessions) are queued, in order per socket, and published
// after the ack; the others are acked once the bus accepted them.
type EventHandlers struct {
	app *app.App
	reg *contracts.Registry
	log *slog.Logger
}

// NewEventHandlers builds the handlers; Register attaches them.
func NewEventHandlers(a *app.App, reg *contracts.Registry, log *slog.Logger) *EventHandlers {
	return &EventHandlers{app: a, reg: reg, log: log}
}

// ackOK is the acknowledgement of an accepted event.
type ackOK struct {
	OK bool `json:"ok"`
}

// ackError is the acknowledgement of a refused event.
type ackError struct {
	Error string `json:"error"`
}

// Register attaches a handler for every client→server event of the
// contract, plus the connect and disconnect hooks.
func (h *EventHandlers) Register(nsp *socketio.Namespace) {
	nsp.OnConnect(h.connected)
	nsp.OnDisconnect(h.disconnected)

	room := func(prefix func(string) string, join bool, use func(context.Context, app.Origin, string) error) func(*socketio.Socket, app.Origin, json.RawMessage) error {
		return func(s *socketio.Socket, o app.Origin, raw json.RawMessage) error {
			var p contracts.VideoRef
			if err := json.Unmarshal(raw, &p); err != nil {
				return err
			}
			room := prefix(p.VideoID)
			if !join {
				s.Leave(room)
				return h.call(use, o, p.VideoID)
			}
			// The room is joined before the event is queued, so that the
			// count presence sends back finds the socket in it; a refused
			// join is undone, as the client is told it failed.
			s.Join(room)
			if err := h.call(use, o, p.VideoID); err != nil {
				s.Leave(room)
				return err
			}
			return nil
		}
	}
	nsp.On(contracts.ClientVideoJoin, h.handle(contracts.ClientVideoJoin, room(contracts.VideoRoom, true, h.app.JoinVideo)))
	nsp.On(contracts.ClientVideoLeave, h.handle(contracts.ClientVideoLeave, room(contracts.VideoRoom, false, h.app.LeaveVideo)))
	nsp.On(contracts.ClientChatJoin, h.handle(contracts.ClientChatJoin, room(contracts.ChatRoom, true, h.app.JoinChat)))
	nsp.On(contracts.ClientChatLeave, h.handle(contracts.ClientChatLeave, room(contracts.ChatRoom, false, h.app.LeaveChat)))

	nsp.On(contracts.ClientVideoProgress, h.handle(contracts.ClientVideoProgress, func(s *socketio.Socket, o app.Origin, raw json.RawMessage) error {
		var p contracts.VideoProgress
		if err := json.Unmarshal(raw, &p); err != nil {
			return err
		}
		return h.timed(func(ctx context.Context) error { return h.app.Progress(ctx, o, p.VideoID, p.Timestamp) })
	}))
	nsp.On(contracts.ClientChatMessage, h.handle(contracts.ClientChatMessage, func(s *socketio.Socket, o app.Origin, raw json.RawMessage) error {
		var p contracts.ChatMessageRequest
		if err := json.Unmarshal(raw, &p); err != nil {
			return err
		}
		return h.timed(func(ctx context.Context) error { return h.app.SendChatMessage(ctx, o, p.VideoID, p.Message) })
	}))
	nsp.On(contracts.ClientChatTyping, h.handle(contracts.ClientChatTyping, func(s *socketio.Socket, o app.Origin, raw json.RawMessage) error {
		var p contracts.ChatTypingRequest
		if err := json.Unmarshal(raw, &p); err != nil {
			return err
		}
		return h.timed(func(ctx context.Context) error { return h.app.Typing(ctx, o, p.VideoID, p.IsTyping) })
	}))
	channel := func(join bool, use func(context.Context, app.Origin, string) error) func(*socketio.Socket, app.Origin, json.RawMessage) error {
		return func(s *socketio.Socket, o app.Origin, raw json.RawMessage) error {
			var p contracts.ChannelRef
			if err := json.Unmarshal(raw, &p); err != nil {
				return err
			}
			if join {
				s.Join(contracts.ChannelRoom(p.ChannelID))
			} else {
				s.Leave(contracts.ChannelRoom(p.ChannelID))
			}
			return h.call(use, o, p.ChannelID)
		}
	}
	nsp.On(contracts.ClientNotificationsSubscribe, h.handle(contracts.ClientNotificationsSubscribe, channel(true, h.app.Subscribe)))
	nsp.On(contracts.ClientNotificationsUnsubscribe, h.handle(contracts.ClientNotificationsUnsubscribe, channel(false, h.app.Unsubscribe)))
	nsp.On(contracts.ClientNotificationsRead, h.handle(contracts.ClientNotificationsRead, func(s *socketio.Socket, o app.Origin, raw json.RawMessage) error {
		var p contracts.NotificationRef
		if err := json.Unmarshal(raw, &p); err != nil {
			return err
		}
		return h.call(h.app.MarkRead, o, p.NotificationID)
	}))
}

func (h *EventHandlers) call(use func(context.Context, app.Origin, string) error, o app.Origin, id string) error {
	return h.timed(func(ctx context.Context) error { return use(ctx, o, id) })
}

func (h *EventHandlers) timed(fn func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
	defer cancel()
	return fn(ctx)
}

// handle wraps a use case with what every event needs: exactly one object
// argument that validates against the event's schema, the caller's
// identity, and an answer (ack and/or `error` event) for every outcome.
func (h *EventHandlers) handle(event string, fn func(*socketio.Socket, app.Origin, json.RawMessage) error) socketio.EventHandler {
	return func(s *socketio.Socket, ev *socketio.Event) {
		id, ok := IdentityOf(s)
		if !ok {
			h.refuse(s, ev, errors.New("not authenticated"))
			return
		}
		if len(ev.Args) == 0 {
			h.refuse(s, ev, errors.New("payload required"))
			return
		}
		if err := h.reg.ValidateClientEvent(event, ev.Args[0]); err != nil {
			h.refuse(s, ev, err)
			return
		}
		if err := fn(s, app.Origin{SocketID: s.ID(), Identity: id}, ev.Args[0]); err != nil {
			if errors.Is(err, app.ErrUnavailable) {
				h.logUnavailable("client event refused", err, "event", event, "socket", s.ID())
				err = app.ErrUnavailable
			}
			h.refuse(s, ev, err)
			return
		}
		if ev.HasAck() {
			_ = ev.Ack(ackOK{OK: true})
		}
	}
}

// refuse answers a refused event: the ack (if asked) carries { error }, and
// the `error` event always tells the client which event failed and why.
func (h *EventHandlers) refuse(s *socketio.Socket, ev *socketio.Event, err error) {
	msg := err.Error()
	if ev.HasAck() {
		_ = ev.Ack(ackError{Error: msg})
	}
	_ = s.Emit(contracts.ServerError, contracts.ErrorPayload{Message: msg, Event: ev.Name})
}

func (h *EventHandlers) connected(s *socketio.Socket) {
	id, ok := IdentityOf(s)
	if !ok {
		return
	}
	if !id.Anonymous {
		// Every device of a user shares this room: notifications, sync and
		// read receipts target it.
		s.Join(contracts.UserRoom(id.UserID))
	}
	if err := h.timed(func(ctx context.Context) error {
		return h.app.SessionOpened(ctx, app.Origin{SocketID: s.ID(), Identity: id})
	}); err != nil {
		h.logUnavailable("session.opened not published", err, "socket", s.ID())
	}
}

func (h *EventHandlers) disconnected(s *socketio.Socket, reason string) {
	id, ok := IdentityOf(s)
	if !ok {
		return
	}
	h.log.Debug("socket disconnected", "socket", s.ID(), "reason", reason)
	if err := h.timed(func(ctx context.Context) error {
		return h.app.SessionClosed(ctx, app.Origin{SocketID: s.ID(), Identity: id})
	}); err != nil {
		// Presence will still drop the socket when this edge's lease ends.
		h.logUnavailable("session.closed not published", err, "socket", s.ID())
	}
}

// logUnavailable logs an event the edge could not publish. A full or
// stopped outbox is logged at debug level only: under overload it refuses
// every join, the outbox logs when it fills up and counts each refusal.
func (h *EventHandlers) logUnavailable(msg string, err error, args ...any) {
	level := slog.LevelError
	if errors.Is(err, app.ErrOutboxFull) || errors.Is(err, app.ErrOutboxClosed) {
		level = slog.LevelDebug
	}
	h.log.Log(context.Background(), level, msg, append(args, "error", err)...)
}
