package service_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"realtime/contracts"
	"realtime/pkg/redistest"
	"realtime/services/chat/service"
)

// These tests run chat workers with their state in the Redis at REDIS_ADDR
// (skipped without it), each test under a key prefix of its own. Every
// worker has a bus of its own, as instances in other processes would: all
// they share is Redis.

// startShared starts n workers on one Redis and prefix.
func startShared(t *testing.T, n int, environ map[string]string) []*harness {
	t.Helper()
	client, prefix := redistest.Client(t)
	hs := make([]*harness, n)
	for i := range hs {
		hs[i] = start(t, newOrderedBus, environ, service.WithRedis(client), service.WithKeyPrefix(prefix))
	}
	return hs
}

// Two instances sharing one Redis enforce one rate limit per user: the
// 11th message within a minute is refused whichever instance handles it,
// however the first ten were spread.
func TestRateLimitSharedByInstances(t *testing.T) {
	tests := []struct {
		name     string
		first10  func(i int) int // instance handling message i
		eleventh int
	}{
		{"alternating, 11th on the first", func(i int) int { return i % 2 }, 0},
		{"alternating, 11th on the second", func(i int) int { return i % 2 }, 1},
		{"all on the first, 11th on the second", func(int) int { return 0 }, 1},
		{"all on the second, 11th on the first", func(int) int { return 1 }, 0},
	}
	limited := contracts.ErrorPayload{Message: "Rate limit exceeded", Event: "chat:message"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := startShared(t, 2, nil) // CHAT_RATE_PER_MIN defaults to 10
			for i := range 10 {
				// Different videos: different partitions, so different
				// instances in a real deployment.
				h := hs[tt.first10(i)]
				h.publish(messageEvent(fmt.Sprint("ev-", i), fmt.Sprint("video-", i), "789", "sock-a", fmt.Sprint("message ", i)))
				if f := h.next(); f.Event != contracts.ServerChatMessage {
					t.Fatalf("message %d: got %s, want chat:message", i+1, f.Event)
				}
			}
			h := hs[tt.eleventh]
			h.publish(messageEvent("ev-10", "video-x", "789", "sock-b", "one too many"))
			f := h.next()
			if f.Event != contracts.ServerError || f.Target != (contracts.Target{Kind: "socket", SocketID: "sock-b", EdgeID: "edge-1"}) {
				t.Fatalf("11th message: got %s to %+v, want error to sock-b", f.Event, f.Target)
			}
			if got := decode[contracts.ErrorPayload](t, f); got != limited {
				t.Errorf("error %+v, want %+v", got, limited)
			}
			// Still refused on the other instance; other users unaffected.
			other := hs[1-tt.eleventh]
			other.publish(messageEvent("ev-11", "video-y", "789", "sock-a", "still too many"))
			if f := other.next(); f.Event != contracts.ServerError || decode[contracts.ErrorPayload](t, f) != limited {
				t.Fatalf("12th message on the other instance: got %s, want the rate-limit error", f.Event)
			}
			other.publish(messageEvent("ev-12", "video-y", "other", "sock-c", "hello"))
			if f := other.next(); f.Event != contracts.ServerChatMessage {
				t.Fatalf("another user's message: got %s, want chat:message", f.Event)
			}
		})
	}
}

// An event redelivered to another instance (after a consumer-group
// rebalance) is recognised there: the handled ids are shared too.
func TestDuplicateDroppedByAnotherInstance(t *testing.T) {
	hs := startShared(t, 2, nil)
	ev := messageEvent("ev-dup", "123", "789", "sock-a", "once")
	hs[0].publish(ev)
	if m := decode[contracts.ChatMessagePayload](t, hs[0].next()); m.Message != "once" {
		t.Fatalf("got %q, want \"once\"", m.Message)
	}
	hs[1].publish(ev)
	hs[1].publish(messageEvent("ev-after", "123", "789", "sock-a", "after"))
	if m := decode[contracts.ChatMessagePayload](t, hs[1].next()); m.Message != "after" {
		t.Fatalf("second instance published %q, want only \"after\": the duplicate must be dropped", m.Message)
	}
}

// With the Redis stores too, a failed attempt is retried, not taken for a
// duplicate (ids are marked only after success), and not counted twice by
// the rate limit (a limit of 1 would refuse it).
func TestFailedPublishIsRetriedOnceWithRedis(t *testing.T) {
	client, prefix := redistest.Client(t)
	h := start(t, failFirstFanoutPublish(newOrderedBus), map[string]string{"CHAT_RATE_PER_MIN": "1"},
		service.WithRedis(client), service.WithKeyPrefix(prefix))
	h.publish(messageEvent("ev-1", "123", "789", "sock-a", "hello"))
	if f := h.next(); f.Event != contracts.ServerChatMessage {
		t.Fatalf("got %s %s, want the chat:message", f.Event, f.Data)
	}
	h.publish(messageEvent("ev-2", "123", "789", "sock-a", "second"))
	if f := h.next(); f.Event != contracts.ServerError {
		t.Fatalf("got %s, want the rate-limit error: the retried message counts once", f.Event)
	}
}

// The worker's keys are under its prefix: the rate-limit window of the
// user and the handled event's id.
func TestRedisKeys(t *testing.T) {
	client, prefix := redistest.Client(t)
	h := start(t, newOrderedBus, nil, service.WithRedis(client), service.WithKeyPrefix(prefix))
	// The ordered bus's Publish returns once the worker acknowledged the
	// event, which it does after marking it.
	h.publish(messageEvent("ev-1", "123", "789", "sock-a", "hello"))
	h.next()
	got := redistest.Keys(t, client, prefix)
	if want := []string{prefix + "processed:ev-1", prefix + "rate:789"}; !slices.Equal(got, want) {
		t.Fatalf("keys %v, want %v", got, want)
	}
	for _, k := range got {
		if ttl, err := client.PTTL(context.Background(), k).Result(); err != nil || ttl <= 0 {
			t.Errorf("key %s has TTL %s (%v), want one", k, ttl, err)
		}
	}
}
