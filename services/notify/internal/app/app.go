// Package app lists the notify worker's use cases. Each method is one thing
// the worker does; the ports call them, the domain decides, and the store
// and fan-out interfaces below are all the outside world they touch.
package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"realtime/contracts"
	"realtime/services/notify/internal/domain"
)

// Store is the worker's durable state: channel subscriptions and read
// receipts. Every method is idempotent (set semantics), so a redelivered
// event changes nothing. Implementations: adapters.MemoryStore (embedded
// mode, tests); a Redis one (a set per user) for distributed mode.
type Store interface {
	// Subscribe records that userID follows channelID.
	Subscribe(ctx context.Context, userID, channelID string) error
	// Unsubscribe removes that record; unknown pairs are not an error.
	Unsubscribe(ctx context.Context, userID, channelID string) error
	// Subscriptions returns the channels userID follows, sorted.
	Subscriptions(ctx context.Context, userID string) ([]string, error)
	// MarkRead records that userID read notificationID.
	MarkRead(ctx context.Context, userID, notificationID string) error
	// IsRead reports whether userID read notificationID.
	IsRead(ctx context.Context, userID, notificationID string) (bool, error)
}

// Fanout hands a server→client event to the edges.
type Fanout interface {
	Publish(ctx context.Context, msg contracts.FanoutMessage) error
}

// Application is the notify worker's use cases.
type Application struct {
	store  Store
	fanout Fanout
	newID  func() string
}

// New returns the application. newID makes fan-out ids for deliveries that
// no source id identifies (bus.NewID in production).
func New(store Store, fanout Fanout, newID func() string) *Application {
	return &Application{store: store, fanout: fanout, newID: newID}
}

// MarkRead is a notification.read domain event.
type MarkRead struct {
	EventID        string
	UserID         string
	SocketID       string
	NotificationID string
}

// IsInvalid reports whether err means the event itself is wrong (it will
// never succeed, so retrying is pointless), as opposed to a failure of the
// store or the bus.
func IsInvalid(err error) bool {
	return errors.Is(err, domain.ErrInvalidEvent) || errors.Is(err, domain.ErrUnknownEvent)
}

// SubscribeToChannel records a channel subscription. Delivery does not
// depend on it: the edge puts the socket in room channel:<id> itself.
func (a *Application) SubscribeToChannel(ctx context.Context, userID, channelID string) error {
	if userID == "" || channelID == "" {
		return fmt.Errorf("%w: subscription needs userId and channelId", domain.ErrInvalidEvent)
	}
	return a.store.Subscribe(ctx, userID, channelID)
}

// UnsubscribeFromChannel removes a channel subscription.
func (a *Application) UnsubscribeFromChannel(ctx context.Context, userID, channelID string) error {
	if userID == "" || channelID == "" {
		return fmt.Errorf("%w: subscription needs userId and channelId", domain.ErrInvalidEvent)
	}
	return a.store.Unsubscribe(ctx, userID, channelID)
}

// MarkNotificationRead records a read receipt and tells the user's other
// devices. The receipt is stored first: if the fan-out fails the event is
// retried, and storing it again is harmless.
func (a *Application) MarkNotificationRead(ctx context.Context, cmd MarkRead) error {
	d, err := domain.ReadReceipt(cmd.EventID, cmd.UserID, cmd.SocketID, cmd.NotificationID)
	if err != nil {
		return err
	}
	if err := a.store.MarkRead(ctx, cmd.UserID, cmd.NotificationID); err != nil {
		return fmt.Errorf("store read receipt: %w", err)
	}
	return a.deliver(ctx, d)
}

// RelayPlatformEvent turns an event from the rest of the platform into the
// client event it produces and hands it to the edges.
func (a *Application) RelayPlatformEvent(ctx context.Context, ev contracts.PlatformEvent) error {
	d, err := domain.RelayPlatformEvent(ev)
	if err != nil {
		return err
	}
	return a.deliver(ctx, d)
}

// Subscriptions returns the channels a user follows.
func (a *Application) Subscriptions(ctx context.Context, userID string) ([]string, error) {
	return a.store.Subscriptions(ctx, userID)
}

// IsRead reports whether a user read a notification.
func (a *Application) IsRead(ctx context.Context, userID, notificationID string) (bool, error) {
	return a.store.IsRead(ctx, userID, notificationID)
}

func (a *Application) deliver(ctx context.Context, d domain.Delivery) error {
	data, err := json.Marshal(d.Data)
	if err != nil {
		return fmt.Errorf("encode %s: %w", d.Event, err)
	}
	id := a.newID()
	if d.IdempotencyKey != "" {
		id = domain.FanoutID(d.IdempotencyKey)
	}
	msg := contracts.FanoutMessage{
		ID:       id,
		Target:   d.Target,
		Except:   d.Except,
		Event:    d.Event,
		Data:     data,
		Volatile: d.Volatile,
	}
	if err := a.fanout.Publish(ctx, msg); err != nil {
		return fmt.Errorf("publish %s: %w", d.Event, err)
	}
	return nil
}
