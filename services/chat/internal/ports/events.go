// Package ports feeds the chat worker from the bus: one Watermill handler
// for its trigger, the realtime.chat topic.
package ports

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"realtime/contracts"
	"realtime/pkg/bus"
	"realtime/services/chat/internal/app"
)

// HandlerName names the handler in the router and in logs.
const HandlerName = "chat.events"

// ProcessedEvents remembers which domain events were handled, so that a
// redelivered event is not handled twice. Seen and Mark are separate steps
// on purpose: an event is marked only after it was handled, so a retry of
// a failed attempt runs again instead of being taken for a duplicate.
type ProcessedEvents interface {
	Seen(ctx context.Context, id string, now time.Time) (bool, error)
	Mark(ctx context.Context, id string, now time.Time) error
}

// ErrInvalidEvent wraps a domain event that breaks its contract. Retrying
// cannot fix it; after the router's retries it is parked on the poison
// topic, where it can be inspected.
var ErrInvalidEvent = errors.New("invalid domain event")

// Events handles the domain events on realtime.chat.
type Events struct {
	app       *app.App
	contracts *contracts.Registry
	processed ProcessedEvents
	now       func() time.Time
	log       *slog.Logger
}

// NewEvents returns the handler of realtime.chat.
func NewEvents(a *app.App, reg *contracts.Registry, processed ProcessedEvents, now func() time.Time, log *slog.Logger) *Events {
	return &Events{app: a, contracts: reg, processed: processed, now: now, log: log}
}

// Register adds the handler to r, consuming realtime.chat from sub.
//
// realtime.chat is one trigger, so there is one handler: with Kafka, two
// handlers in one consumer group would split the topic's partitions between
// them and each would miss the other's events. One handler also keeps all
// of a video's events (its partition) in order: Watermill hands a
// subscription's messages to its handler one at a time, the next only after
// the previous was acknowledged.
func (e *Events) Register(r *message.Router, sub message.Subscriber) *message.Handler {
	return r.AddConsumerHandler(HandlerName, contracts.TopicChat, sub, e.Handle)
}

// Handle handles one message. Events of the two types the worker owns are
// checked against their contract, deduplicated by event id (the message
// UUID, which the edge sets to the event id), handled, and only then marked
// as processed. Other types on the topic are acknowledged and ignored.
func (e *Events) Handle(msg *message.Message) error {
	ctx := msg.Context()
	ev, ok, err := e.decode(msg.Payload)
	if err != nil {
		// No retry can mend an event that breaks its contract: park it.
		return bus.Permanent(err)
	}
	if !ok {
		return nil
	}
	seen, err := e.processed.Seen(ctx, ev.ID, e.now())
	if err != nil {
		return fmt.Errorf("dedupe: %w", err)
	}
	if seen {
		e.log.DebugContext(ctx, "duplicate event dropped", "event_id", ev.ID, "type", ev.Type)
		return nil
	}
	from := app.Sender{SocketID: ev.SocketID, EdgeID: ev.EdgeID, UserID: ev.UserID, Anonymous: ev.Anonymous != nil && *ev.Anonymous}
	switch ev.Type {
	case contracts.DomainChatMessageRequested:
		err = e.app.PostMessage(ctx, app.PostMessage{EventID: ev.ID, VideoID: ev.VideoID, Text: ev.Message, From: from})
	case contracts.DomainChatTyping:
		err = e.app.SetTyping(ctx, app.SetTyping{EventID: ev.ID, VideoID: ev.VideoID, IsTyping: *ev.IsTyping, From: from})
	}
	if err != nil {
		return err
	}
	if err := e.processed.Mark(ctx, ev.ID, e.now()); err != nil {
		// Handled but not marked: a redelivery would be handled again,
		// which the derived ids make harmless. Not worth a retry.
		e.log.WarnContext(ctx, "cannot mark event as processed", "event_id", ev.ID, "error", err)
	}
	return nil
}

// decode returns the event if it is one of the worker's types (ok), after
// checking it against its contract.
func (e *Events) decode(payload []byte) (ev contracts.DomainEvent, ok bool, err error) {
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(payload, &head); err != nil {
		return ev, false, fmt.Errorf("%w: %v", ErrInvalidEvent, err)
	}
	switch head.Type {
	case contracts.DomainChatMessageRequested, contracts.DomainChatTyping:
	default:
		// chat.joined and chat.left are presence's; anything else is not ours.
		return ev, false, nil
	}
	if err := e.contracts.Validate(contracts.DomainMessage(head.Type), payload); err != nil {
		return ev, false, fmt.Errorf("%w %s: %v", ErrInvalidEvent, head.Type, err)
	}
	if err := json.Unmarshal(payload, &ev); err != nil {
		return ev, false, fmt.Errorf("%w %s: %v", ErrInvalidEvent, head.Type, err)
	}
	return ev, true, nil
}
