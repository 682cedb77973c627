// Package ports holds the notify worker's inbound side: one Watermill
// handler per trigger (a topic and its consumer group), the way a
// serverless function is bound to one event source. Handlers decode and
// validate, then call a use case; they keep no state of their own.
package ports

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/ThreeDotsLabs/watermill/message"

	"realtime/contracts"
	"realtime/pkg/bus"
	"realtime/services/notify/internal/app"
)

// Handler names, which are also the consumer groups: instances of the
// worker share each trigger's partitions.
const (
	UserHandler     = "notify.user"
	PlatformHandler = "notify.platform"
)

// Metrics counts what the handlers did. Each event is counted once however
// often the router retries it.
type Metrics struct {
	PlatformRelayed  atomic.Uint64 // platform events turned into a fan-out
	PlatformRejected atomic.Uint64 // invalid or unknown platform events, parked
	UserHandled      atomic.Uint64 // subscription and read events applied
	UserIgnored      atomic.Uint64 // realtime.user events for other workers
	UserRejected     atomic.Uint64 // invalid subscription or read events, parked
	Duplicates       atomic.Uint64 // redelivered events dropped by dedupe
}

// Handlers are the worker's Watermill handlers.
type Handlers struct {
	app     *app.Application
	reg     *contracts.Registry
	log     *slog.Logger
	metrics *Metrics
}

// NewHandlers returns the handlers of application a.
func NewHandlers(a *app.Application, reg *contracts.Registry, log *slog.Logger, m *Metrics) *Handlers {
	return &Handlers{app: a, reg: reg, log: log, metrics: m}
}

// Register adds one handler per trigger to r, each with its own consumer
// group on b's domain role and its own dedupe store (by message id), made
// by newDedupe for the handler's name.
func (h *Handlers) Register(r *message.Router, b *bus.Bus, newDedupe func(handler string) bus.DedupeStore) error {
	for _, t := range []struct {
		name, topic string
		handle      message.NoPublishHandlerFunc
	}{
		{UserHandler, contracts.TopicUser, h.UserEvent},
		{PlatformHandler, contracts.TopicPlatformEvents, h.PlatformEvent},
	} {
		sub, err := b.Domain.Subscriber(t.name)
		if err != nil {
			return fmt.Errorf("subscriber %s: %w", t.name, err)
		}
		store := countingDedupe{DedupeStore: newDedupe(t.name), h: h}
		r.AddConsumerHandler(t.name, t.topic, sub, t.handle).AddMiddleware(bus.Dedupe(store, bus.DedupeLogger(h.log)))
	}
	return nil
}

// UserEvent handles the realtime.user topic: channel subscriptions and read
// receipts. Other event types on the topic belong to other workers
// (video.progress is presence's) and are acknowledged untouched.
func (h *Handlers) UserEvent(msg *message.Message) error {
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(msg.Payload, &head); err != nil {
		return h.reject(msg, &h.metrics.UserRejected, "", errors.New("payload is not a JSON object"))
	}
	switch head.Type {
	case contracts.DomainNotificationsSubscribed, contracts.DomainNotificationsUnsubscribed,
		contracts.DomainNotificationRead:
	default:
		h.metrics.UserIgnored.Add(1)
		return nil
	}
	if err := h.reg.Validate(contracts.DomainMessage(head.Type), msg.Payload); err != nil {
		return h.reject(msg, &h.metrics.UserRejected, head.Type, err)
	}
	var ev contracts.DomainEvent
	if err := json.Unmarshal(msg.Payload, &ev); err != nil {
		return h.reject(msg, &h.metrics.UserRejected, head.Type, err)
	}

	ctx := msg.Context()
	var err error
	switch ev.Type {
	case contracts.DomainNotificationsSubscribed:
		err = h.app.SubscribeToChannel(ctx, ev.UserID, ev.ChannelID)
	case contracts.DomainNotificationsUnsubscribed:
		err = h.app.UnsubscribeFromChannel(ctx, ev.UserID, ev.ChannelID)
	case contracts.DomainNotificationRead:
		err = h.app.MarkNotificationRead(ctx, app.MarkRead{
			EventID: ev.ID, UserID: ev.UserID, SocketID: ev.SocketID, NotificationID: ev.NotificationID,
		})
	}
	switch {
	case app.IsInvalid(err):
		return h.reject(msg, &h.metrics.UserRejected, ev.Type, err)
	case err != nil:
		return err // the store or the bus failed: worth a retry
	}
	h.metrics.UserHandled.Add(1)
	return nil
}

// PlatformEvent handles the platform.events topic: each event from the rest
// of the platform becomes one client event. The platform is another team's
// producer, so every event is validated against the contract first; one
// that fails is parked, never retried into a stuck partition.
func (h *Handlers) PlatformEvent(msg *message.Message) error {
	if err := h.reg.Validate(contracts.PlatformEventMessageName, msg.Payload); err != nil {
		return h.reject(msg, &h.metrics.PlatformRejected, peekType(msg.Payload), err)
	}
	var ev contracts.PlatformEvent
	if err := json.Unmarshal(msg.Payload, &ev); err != nil {
		return h.reject(msg, &h.metrics.PlatformRejected, peekType(msg.Payload), err)
	}
	err := h.app.RelayPlatformEvent(msg.Context(), ev)
	switch {
	case app.IsInvalid(err):
		return h.reject(msg, &h.metrics.PlatformRejected, ev.Type, err)
	case err != nil:
		return err
	}
	h.metrics.PlatformRelayed.Add(1)
	return nil
}

// rejectedMetadata marks a message already logged and counted as rejected,
// so that retries of it are neither.
const rejectedMetadata = "notify_rejected"

// RejectedError is returned for an event that can never be handled (it
// breaks the contract, or its type is unknown). The router's poison-queue
// middleware parks the message on bus.TopicPoison, with the reason, and the
// partition moves on.
type RejectedError struct {
	Type   string // the event's type, "" if unreadable
	Reason error
}

func (e *RejectedError) Error() string {
	if e.Type == "" {
		return "rejected event: " + e.Reason.Error()
	}
	return fmt.Sprintf("rejected %s event: %v", e.Type, e.Reason)
}

func (e *RejectedError) Unwrap() error { return e.Reason }

// Permanent reports that retrying cannot help.
func (e *RejectedError) Permanent() bool { return true }

func (h *Handlers) reject(msg *message.Message, counter *atomic.Uint64, eventType string, reason error) error {
	if msg.Metadata.Get(rejectedMetadata) == "" {
		msg.Metadata.Set(rejectedMetadata, reason.Error())
		counter.Add(1)
		h.log.Warn("rejected event; parking it on the poison queue",
			"topic", message.SubscribeTopicFromCtx(msg.Context()),
			"type", eventType,
			"reason", reason.Error(),
			"message_uuid", msg.UUID)
	}
	return &RejectedError{Type: eventType, Reason: reason}
}

// countingDedupe counts and logs the duplicates its store recognises.
// bus.Dedupe itself skips messages without an id (records produced straight
// to Kafka) and logs marks that fail.
type countingDedupe struct {
	bus.DedupeStore
	h *Handlers
}

func (d countingDedupe) Seen(ctx context.Context, id string) (bool, error) {
	seen, err := d.DedupeStore.Seen(ctx, id)
	if seen {
		d.h.metrics.Duplicates.Add(1)
		d.h.log.Debug("dropped duplicate event", "topic", message.SubscribeTopicFromCtx(ctx), "message_uuid", id)
	}
	return seen, err
}

// peekType returns the type field of an invalid event, for the log.
func peekType(payload []byte) string {
	var head struct {
		Type any `json:"type"`
	}
	if json.Unmarshal(payload, &head) != nil {
		return ""
	}
	if s, ok := head.Type.(string); ok && len(s) <= 64 {
		return s
	}
	return ""
}
