// Package app lists the edge's use cases: each client intent becomes one
// domain event on the bus. The edge keeps no cross-instance state; what a
// socket's local rooms are is decided in ports, next to the socket.
package app

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"realtime/contracts"
	"realtime/pkg/bus"
	"realtime/services/edge/internal/identity"
)

// Intents that need a signed-in user; the messages go to the client as is.
var (
	ErrAnonymousChat = errors.New("Anonymous users cannot post in chat")
	ErrAnonymousRead = errors.New("Sign in to mark notifications as read")
)

// ErrUnavailable is what a client is told when the bus refused an event;
// the details go to the log, not to the client.
var ErrUnavailable = errors.New("service temporarily unavailable, try again")

// Origin is where an intent comes from.
type Origin struct {
	SocketID string
	Identity identity.Identity
}

// App publishes domain events for one edge instance.
type App struct {
	pub    message.Publisher
	outbox *Outbox
	edgeID string
	now    func() time.Time
}

// New returns the use cases of edge edgeID, publishing on pub. Membership
// events (sessions opened and closed, rooms joined and left) go through
// outbox, asynchronously; with a nil outbox they are published at once,
// like every other event.
func New(pub message.Publisher, edgeID string, outbox *Outbox) *App {
	return &App{pub: pub, outbox: outbox, edgeID: edgeID, now: time.Now}
}

// EdgeID names this edge in domain events.
func (a *App) EdgeID() string { return a.edgeID }

func (a *App) event(typ string, o Origin) *contracts.DomainEvent {
	anon := o.Identity.Anonymous
	e := &contracts.DomainEvent{
		ID:         bus.NewID(),
		Type:       typ,
		OccurredAt: a.now().UnixMilli(),
		EdgeID:     a.edgeID,
		SocketID:   o.SocketID,
		Anonymous:  &anon,
	}
	if !anon {
		e.UserID = o.Identity.UserID
	}
	return e
}

// publish returns after the bus accepted the event (in distributed mode,
// after Kafka acknowledged it): chat messages, typing, progress,
// subscriptions, read receipts and the heartbeat.
func (a *App) publish(ctx context.Context, e *contracts.DomainEvent) error {
	err := bus.PublishJSON(ctx, a.pub, contracts.DomainEventTopic(e.Type), e.ID, e.Key(), e)
	if err != nil {
		return errors.Join(ErrUnavailable, err)
	}
	return nil
}

// membership queues e, an event about the membership of one of this
// edge's sockets, in the outbox: it is published after the socket's
// earlier membership events, without waiting for the bus. Such an event
// only describes this edge's live sockets: if the edge dies before it is
// published, presence drops every socket of the edge when its lease runs
// out. A full or stopped outbox refuses it with ErrUnavailable. force is
// for session.closed (see Outbox.Enqueue).
func (a *App) membership(ctx context.Context, e *contracts.DomainEvent, force bool) error {
	if a.outbox == nil {
		return a.publish(ctx, e)
	}
	payload, err := json.Marshal(e)
	if err != nil {
		return errors.Join(ErrUnavailable, err)
	}
	return a.outbox.Enqueue(e.SocketID, contracts.DomainEventTopic(e.Type), e.ID, e.Key(), payload, force)
}

// SessionOpened announces a new socket.
func (a *App) SessionOpened(ctx context.Context, o Origin) error {
	return a.membership(ctx, a.event(contracts.DomainSessionOpened, o), false)
}

// SessionClosed announces a socket that is gone, so presence drops it from
// every room it was counted in. A full outbox still takes it: refused, the
// socket would stay counted for as long as this edge lives.
func (a *App) SessionClosed(ctx context.Context, o Origin) error {
	return a.membership(ctx, a.event(contracts.DomainSessionClosed, o), true)
}

// Heartbeat renews this edge's lease; presence drops the edge's sockets
// when the lease runs out (the edge died without saying goodbye).
func (a *App) Heartbeat(ctx context.Context, ttl time.Duration, sockets int) error {
	e := &contracts.DomainEvent{
		ID:         bus.NewID(),
		Type:       contracts.DomainEdgeHeartbeat,
		OccurredAt: a.now().UnixMilli(),
		EdgeID:     a.edgeID,
		TTLMs:      ttl.Milliseconds(),
		Sockets:    &sockets,
	}
	return a.publish(ctx, e)
}

// JoinVideo, LeaveVideo, JoinChat and LeaveChat change room membership;
// they return once the event is queued (see membership).
func (a *App) JoinVideo(ctx context.Context, o Origin, videoID string) error {
	return a.withVideo(ctx, contracts.DomainVideoJoined, o, videoID)
}

func (a *App) LeaveVideo(ctx context.Context, o Origin, videoID string) error {
	return a.withVideo(ctx, contracts.DomainVideoLeft, o, videoID)
}

func (a *App) JoinChat(ctx context.Context, o Origin, videoID string) error {
	return a.withVideo(ctx, contracts.DomainChatJoined, o, videoID)
}

func (a *App) LeaveChat(ctx context.Context, o Origin, videoID string) error {
	return a.withVideo(ctx, contracts.DomainChatLeft, o, videoID)
}

func (a *App) withVideo(ctx context.Context, typ string, o Origin, videoID string) error {
	e := a.event(typ, o)
	e.VideoID = videoID
	return a.membership(ctx, e, false)
}

// Progress reports a playback position, synced to the user's other devices.
// An anonymous connection has no other devices to sync, so nothing is sent.
func (a *App) Progress(ctx context.Context, o Origin, videoID string, position float64) error {
	if o.Identity.Anonymous {
		return nil
	}
	e := a.event(contracts.DomainVideoProgress, o)
	e.VideoID = videoID
	e.Position = &position
	return a.publish(ctx, e)
}

// SendChatMessage asks the chat worker to post a message.
func (a *App) SendChatMessage(ctx context.Context, o Origin, videoID, text string) error {
	if o.Identity.Anonymous {
		return ErrAnonymousChat
	}
	e := a.event(contracts.DomainChatMessageRequested, o)
	e.VideoID = videoID
	e.Message = text
	return a.publish(ctx, e)
}

// Typing reports a typing indicator change.
func (a *App) Typing(ctx context.Context, o Origin, videoID string, typing bool) error {
	if o.Identity.Anonymous {
		return ErrAnonymousChat
	}
	e := a.event(contracts.DomainChatTyping, o)
	e.VideoID = videoID
	e.IsTyping = &typing
	return a.publish(ctx, e)
}

// Subscribe and Unsubscribe record a user's channel subscription. The
// socket's local channel room is handled by the caller; anonymous sockets
// get the room only (there is no user to remember it for).
func (a *App) Subscribe(ctx context.Context, o Origin, channelID string) error {
	return a.withChannel(ctx, contracts.DomainNotificationsSubscribed, o, channelID)
}

func (a *App) Unsubscribe(ctx context.Context, o Origin, channelID string) error {
	return a.withChannel(ctx, contracts.DomainNotificationsUnsubscribed, o, channelID)
}

func (a *App) withChannel(ctx context.Context, typ string, o Origin, channelID string) error {
	if o.Identity.Anonymous {
		return nil
	}
	e := a.event(typ, o)
	e.ChannelID = channelID
	return a.publish(ctx, e)
}

// MarkRead records a read receipt and tells the user's other devices.
func (a *App) MarkRead(ctx context.Context, o Origin, notificationID string) error {
	if o.Identity.Anonymous {
		return ErrAnonymousRead
	}
	e := a.event(contracts.DomainNotificationRead, o)
	e.NotificationID = notificationID
	return a.publish(ctx, e)
}

// PublishPlatformEvent relays an event of the wider platform (posted to
// /internal/events) onto the platform.events topic. raw has already been
// validated against the contract and is published unchanged.
func (a *App) PublishPlatformEvent(ctx context.Context, ev *contracts.PlatformEvent, raw []byte) (string, error) {
	id := ev.ID
	if id == "" {
		id = bus.NewID()
	}
	msg := bus.NewMessage(id, ev.Key(), raw)
	msg.SetContext(ctx)
	if err := a.pub.Publish(contracts.TopicPlatformEvents, msg); err != nil {
		return "", errors.Join(ErrUnavailable, err)
	}
	return id, nil
}
