package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"realtime/contracts"
	"realtime/pkg/bus"
	"realtime/services/edge/internal/identity"
)

type published struct {
	topic string
	msg   *message.Message
}

type fakePublisher struct {
	mu   sync.Mutex
	got  []published
	fail error
}

func (p *fakePublisher) Publish(topic string, msgs ...*message.Message) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail != nil {
		return p.fail
	}
	for _, m := range msgs {
		p.got = append(p.got, published{topic, m})
	}
	return nil
}

func (p *fakePublisher) Close() error { return nil }

// Every use case publishes one domain event that the contract accepts, on
// the topic and with the partition key the contract names, whether
// membership events go through the outbox or not.
func TestUseCasesPublishContractEvents(t *testing.T) {
	reg, err := contracts.Load()
	if err != nil {
		t.Fatal(err)
	}
	user := Origin{SocketID: "sock1", Identity: identity.Identity{UserID: "u1"}}
	anon := Origin{SocketID: "sock2", Identity: identity.Identity{UserID: "anon-1", Anonymous: true}}
	ctx := context.Background()
	tests := []struct {
		name  string
		call  func(a *App) error
		typ   string
		topic string
		key   string
	}{
		{"session opened", func(a *App) error { return a.SessionOpened(ctx, user) }, "session.opened", contracts.TopicSessions, "edge-1"},
		{"session closed anonymous", func(a *App) error { return a.SessionClosed(ctx, anon) }, "session.closed", contracts.TopicSessions, "edge-1"},
		{"heartbeat", func(a *App) error { return a.Heartbeat(ctx, 15*time.Second, 3) }, "edge.heartbeat", contracts.TopicSessions, "edge-1"},
		{"join video", func(a *App) error { return a.JoinVideo(ctx, user, "123") }, "video.joined", contracts.TopicVideo, "123"},
		{"join video anonymous", func(a *App) error { return a.JoinVideo(ctx, anon, "123") }, "video.joined", contracts.TopicVideo, "123"},
		{"leave video", func(a *App) error { return a.LeaveVideo(ctx, user, "123") }, "video.left", contracts.TopicVideo, "123"},
		{"progress", func(a *App) error { return a.Progress(ctx, user, "123", 45.5) }, "video.progress", contracts.TopicUser, "u1"},
		{"join chat", func(a *App) error { return a.JoinChat(ctx, user, "9") }, "chat.joined", contracts.TopicChat, "9"},
		{"leave chat", func(a *App) error { return a.LeaveChat(ctx, user, "9") }, "chat.left", contracts.TopicChat, "9"},
		{"chat message", func(a *App) error { return a.SendChatMessage(ctx, user, "9", "Hello!") }, "chat.message_requested", contracts.TopicChat, "9"},
		{"typing", func(a *App) error { return a.Typing(ctx, user, "9", false) }, "chat.typing", contracts.TopicChat, "9"},
		{"subscribe", func(a *App) error { return a.Subscribe(ctx, user, "456") }, "notifications.subscribed", contracts.TopicUser, "u1"},
		{"unsubscribe", func(a *App) error { return a.Unsubscribe(ctx, user, "456") }, "notifications.unsubscribed", contracts.TopicUser, "u1"},
		{"read", func(a *App) error { return a.MarkRead(ctx, user, "789") }, "notification.read", contracts.TopicUser, "u1"},
	}
	for _, tt := range tests {
		for _, viaOutbox := range []bool{false, true} {
			name := tt.name
			if viaOutbox {
				name += " (outbox for membership)"
			}
			t.Run(name, func(t *testing.T) {
				pub := &fakePublisher{}
				var outbox *Outbox
				if viaOutbox {
					outbox = NewOutbox(pub, OutboxConfig{Shards: 2}, discard())
					outbox.Start(ctx)
				}
				if err := tt.call(New(pub, "edge-1", outbox)); err != nil {
					t.Fatal(err)
				}
				if outbox != nil {
					if err := outbox.Shutdown(ctx); err != nil {
						t.Fatal(err)
					}
				}
				checkPublished(t, reg, pub, tt.typ, tt.topic, tt.key)
			})
		}
	}
}

// checkPublished checks that pub got exactly one message: an event of
// type typ that the contract accepts, on topic, with partition key key.
func checkPublished(t *testing.T, reg *contracts.Registry, pub *fakePublisher, typ, topic, key string) {
	t.Helper()
	if len(pub.got) != 1 {
		t.Fatalf("published %d messages", len(pub.got))
	}
	got := pub.got[0]
	if got.topic != topic || got.msg.Metadata.Get(bus.KeyMetadata) != key {
		t.Fatalf("topic %q key %q, want %q %q", got.topic, got.msg.Metadata.Get(bus.KeyMetadata), topic, key)
	}
	if err := reg.Validate(contracts.DomainMessage(typ), got.msg.Payload); err != nil {
		t.Fatalf("%s: %v", got.msg.Payload, err)
	}
	var e contracts.DomainEvent
	_ = json.Unmarshal(got.msg.Payload, &e)
	if e.ID != got.msg.UUID {
		t.Fatal("message UUID is not the event id (dedupe relies on it)")
	}
}

func TestAnonymousRefusals(t *testing.T) {
	pub := &fakePublisher{}
	a := New(pub, "edge-1", nil)
	anon := Origin{SocketID: "s", Identity: identity.Identity{UserID: "anon-1", Anonymous: true}}
	ctx := context.Background()
	if err := a.SendChatMessage(ctx, anon, "1", "hi"); !errors.Is(err, ErrAnonymousChat) {
		t.Fatalf("chat: %v", err)
	}
	if err := a.Typing(ctx, anon, "1", true); !errors.Is(err, ErrAnonymousChat) {
		t.Fatalf("typing: %v", err)
	}
	if err := a.MarkRead(ctx, anon, "n"); !errors.Is(err, ErrAnonymousRead) {
		t.Fatalf("read: %v", err)
	}
	if err := a.Progress(ctx, anon, "1", 2); err != nil {
		t.Fatalf("progress: %v", err)
	}
	if err := a.Subscribe(ctx, anon, "c"); err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	if len(pub.got) != 0 {
		t.Fatalf("anonymous intents published %d events", len(pub.got))
	}
}

func TestPublishFailureIsUnavailable(t *testing.T) {
	pub := &fakePublisher{fail: errors.New("broker down")}
	err := New(pub, "edge-1", nil).JoinVideo(context.Background(), Origin{SocketID: "s", Identity: identity.Identity{UserID: "u"}}, "1")
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v", err)
	}
}

// With the outbox full, a join is refused with ErrUnavailable (the client
// is told), while session.closed is still queued.
func TestFullOutboxRefusesJoinsNotClosedSessions(t *testing.T) {
	pub := &fakePublisher{}
	outbox := NewOutbox(pub, OutboxConfig{Shards: 1, Capacity: 1}, discard())
	a := New(pub, "edge-1", outbox)
	o := Origin{SocketID: "s", Identity: identity.Identity{UserID: "u"}}
	ctx := context.Background()
	if err := a.SessionOpened(ctx, o); err != nil {
		t.Fatal(err)
	}
	if err := a.JoinVideo(ctx, o, "1"); !errors.Is(err, ErrUnavailable) || !errors.Is(err, ErrOutboxFull) {
		t.Fatalf("join with a full outbox: %v", err)
	}
	if err := a.SessionClosed(ctx, o); err != nil {
		t.Fatalf("session.closed with a full outbox: %v", err)
	}
	if len(pub.got) != 0 {
		t.Fatal("published before the outbox started")
	}
	outbox.Start(ctx)
	if err := outbox.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, p := range pub.got {
		var e contracts.DomainEvent
		_ = json.Unmarshal(p.msg.Payload, &e)
		types = append(types, e.Type)
	}
	if got := fmt.Sprint(types); got != "[session.opened session.closed]" {
		t.Fatalf("published %s", got)
	}
}
