package service_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"realtime/contracts"
	"realtime/pkg/redistest"
	"realtime/services/notify/service"
)

// These tests run notify workers with their state in the Redis at
// REDIS_ADDR (skipped without it), each test under a key prefix of its
// own. Every worker has a bus of its own, as instances in other processes
// would: all they share is Redis.

func TestStateIsSharedThroughRedis(t *testing.T) {
	client, prefix := redistest.Client(t)
	opts := []service.Option{service.WithRedis(client), service.WithKeyPrefix(prefix)}
	a, b := newHarness(t, opts...), newHarness(t, opts...)

	a.publish(contracts.TopicUser, "s1", userEvent("s1", "notifications.subscribed", "sock-A",
		map[string]any{"channelId": "456"}))
	b.publish(contracts.TopicUser, "s2", userEvent("s2", "notifications.subscribed", "sock-B",
		map[string]any{"channelId": "457"}))
	a.publish(contracts.TopicUser, "r1", userEvent("r1", "notification.read", "sock-A",
		map[string]any{"notificationId": "n1"}))
	a.awaitAcked("s1", "r1")
	b.awaitAcked("s2")
	b.publish(contracts.TopicUser, "s3", userEvent("s3", "notifications.unsubscribed", "sock-B",
		map[string]any{"channelId": "456"}))
	b.awaitAcked("s3")

	ctx := context.Background()
	for name, h := range map[string]*harness{"first": a, "second": b} {
		if got, err := h.svc.Subscriptions(ctx, "789"); err != nil || !slices.Equal(got, []string{"457"}) {
			t.Errorf("%s instance: Subscriptions = %v, %v; want [457]", name, got, err)
		}
		if read, err := h.svc.IsRead(ctx, "789", "n1"); err != nil || !read {
			t.Errorf("%s instance: IsRead(n1) = %v, %v; want true", name, read, err)
		}
	}

	want := []string{
		prefix + "dedupe:notify.user:r1", prefix + "dedupe:notify.user:s1",
		prefix + "dedupe:notify.user:s2", prefix + "dedupe:notify.user:s3",
		prefix + "read:789", prefix + "subs:789",
	}
	got := redistest.Keys(t, client, prefix)
	if !slices.Equal(got, want) {
		t.Fatalf("keys %v, want %v", got, want)
	}
	for _, k := range got {
		ttl, err := client.PTTL(ctx, k).Result()
		switch {
		case err != nil:
			t.Fatal(err)
		case k == prefix+"subs:789":
			if ttl != -1 {
				t.Errorf("%s: TTL %s, want none (subscriptions are durable)", k, ttl)
			}
		case k == prefix+"read:789":
			if ttl <= 29*24*time.Hour || ttl > 30*24*time.Hour {
				t.Errorf("%s: TTL %s, want NOTIFY_READ_TTL (30 days)", k, ttl)
			}
		default:
			if ttl <= 0 || ttl > 2*time.Minute {
				t.Errorf("%s: TTL %s, want NOTIFY_DEDUPE_WINDOW (2m)", k, ttl)
			}
		}
	}
}

// An event redelivered to another instance (after a consumer-group
// rebalance) is dropped there: the handled ids are shared too.
func TestDuplicateDroppedByAnotherInstance(t *testing.T) {
	client, prefix := redistest.Client(t)
	opts := []service.Option{service.WithRedis(client), service.WithKeyPrefix(prefix)}
	a, b := newHarness(t, opts...), newHarness(t, opts...)
	view := []byte(`{"id":"evt-view-1","type":"video.view","videoId":"123","timestamp":1767225600000}`)
	read := userEvent("evt-read-1", "notification.read", "sock-A", map[string]any{"notificationId": "n1"})

	a.publish(contracts.TopicPlatformEvents, "evt-view-1", view)
	a.publish(contracts.TopicUser, "evt-read-1", read)
	a.awaitAcked("evt-view-1", "evt-read-1")
	b.publish(contracts.TopicPlatformEvents, "evt-view-1", view)
	b.publish(contracts.TopicUser, "evt-read-1", read)
	b.awaitAcked("evt-view-1", "evt-read-1")

	if p := a.recorder.published(); len(p) != 2 {
		t.Errorf("first instance published %v, want one fan-out per event", p)
	}
	if p := b.recorder.published(); len(p) != 0 {
		t.Errorf("second instance published %v, want nothing: both events were handled", p)
	}
	if s := b.svc.Stats(); s.Duplicates != 2 {
		t.Errorf("second instance stats = %+v, want 2 duplicates", s)
	}
}

// Platform events produced straight to Kafka by other services carry no
// message id (no Watermill UUID header): they must not be taken for
// duplicates of each other.
func TestMessagesWithoutIDAreNotDeduplicated(t *testing.T) {
	for name, opts := range map[string]func(t *testing.T) []service.Option{
		"memory": func(*testing.T) []service.Option { return nil },
		"redis": func(t *testing.T) []service.Option {
			client, prefix := redistest.Client(t)
			return []service.Option{service.WithRedis(client), service.WithKeyPrefix(prefix)}
		},
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, opts(t)...)
			for _, video := range []string{"1", "2", "3"} {
				h.publish(contracts.TopicPlatformEvents, "", []byte(`{"type":"video.view","videoId":"`+video+`","timestamp":1767225600000}`))
			}
			h.awaitAcked("", "", "")
			if p := h.recorder.published(); len(p) != 3 {
				t.Fatalf("published %v, want one fan-out per event", p)
			}
			if s := h.svc.Stats(); s.Duplicates != 0 || s.PlatformRelayed != 3 {
				t.Errorf("stats = %+v, want 3 relayed, no duplicates", s)
			}
		})
	}
}
