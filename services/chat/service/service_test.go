package service_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"realtime/contracts"
	"realtime/pkg/bus"
	"realtime/services/chat/service"
)

func TestAcceptedMessage(t *testing.T) {
	for name, newBus := range buses {
		t.Run(name, func(t *testing.T) {
			h := start(t, newBus, nil)
			before := time.Now().UnixMilli()
			h.publish(messageEvent("ev-1", "123", "789", "sock-a", "  Hello!\r\nfrom\tGo\x00 "))
			f := h.next()
			after := time.Now().UnixMilli()

			if f.Event != contracts.ServerChatMessage {
				t.Fatalf("event %q, want chat:message", f.Event)
			}
			if f.Target != (contracts.Target{Kind: "room", Room: "chat:123"}) || f.Except != nil || f.Volatile {
				t.Errorf("delivery target=%+v except=%+v volatile=%v, want the whole room chat:123, not volatile", f.Target, f.Except, f.Volatile)
			}
			m := decode[contracts.ChatMessagePayload](t, f)
			if m.VideoID != "123" || m.UserID != "789" || m.Message != "Hello! from Go" {
				t.Errorf("payload %+v", m)
			}
			if m.ID == "" || m.ID == "ev-1" || m.ID == f.ID {
				t.Errorf("message id %q (fan-out id %q): want its own server-assigned id", m.ID, f.ID)
			}
			if m.Timestamp < before || m.Timestamp > after {
				t.Errorf("timestamp %d is not the server's time of acceptance (%d..%d)", m.Timestamp, before, after)
			}
		})
	}
}

func TestRefusals(t *testing.T) {
	tests := []struct {
		name      string
		event     contracts.DomainEvent
		wantError contracts.ErrorPayload
	}{
		{"anonymous message", messageEvent("ev-1", "123", "", "sock-anon", "hi"),
			contracts.ErrorPayload{Message: "Anonymous users cannot post in chat", Event: "chat:message"}},
		{"anonymous typing", typingEvent("ev-2", "123", "", "sock-anon", true),
			contracts.ErrorPayload{Message: "Anonymous users cannot post in chat", Event: "chat:typing"}},
		{"whitespace only", messageEvent("ev-3", "123", "789", "sock-a", " \t\r\n "),
			contracts.ErrorPayload{Message: "Message is empty", Event: "chat:message"}},
		{"control characters only", messageEvent("ev-4", "123", "789", "sock-a", "\x00\x1b\x7f"),
			contracts.ErrorPayload{Message: "Message is empty", Event: "chat:message"}},
		{"501 characters", messageEvent("ev-5", "123", "789", "sock-a", strings.Repeat("é", 501)),
			contracts.ErrorPayload{Message: "Message is too long (max 500 characters)", Event: "chat:message"}},
	}
	for name, newBus := range buses {
		for _, tt := range tests {
			t.Run(name+"/"+tt.name, func(t *testing.T) {
				h := start(t, newBus, nil)
				h.publish(tt.event)
				f := h.next()
				want := contracts.Target{Kind: "socket", SocketID: tt.event.SocketID, EdgeID: "edge-1"}
				if f.Event != contracts.ServerError || f.Target != want || f.Except != nil || f.Volatile {
					t.Fatalf("got %s to %+v (volatile %v), want error to %+v, not volatile", f.Event, f.Target, f.Volatile, want)
				}
				if got := decode[contracts.ErrorPayload](t, f); got != tt.wantError {
					t.Errorf("error %+v, want %+v", got, tt.wantError)
				}
			})
		}
	}
}

func TestMessageOf500CharactersAccepted(t *testing.T) {
	h := start(t, bus.NewMemory, nil)
	text := strings.Repeat("😀", 500)
	h.publish(messageEvent("ev-1", "123", "789", "sock-a", text))
	f := h.next()
	if got := decode[contracts.ChatMessagePayload](t, f); f.Event != contracts.ServerChatMessage || got.Message != text {
		t.Fatalf("got %s %+v, want the 500-character message", f.Event, got)
	}
}

func TestTypingExcludesSender(t *testing.T) {
	for name, newBus := range buses {
		t.Run(name, func(t *testing.T) {
			h := start(t, newBus, nil)
			for i, isTyping := range []bool{true, false} {
				h.publish(typingEvent(fmt.Sprint("ev-", i), "123", "789", "sock-a", isTyping))
				f := h.next()
				if f.Event != contracts.ServerChatTyping || !f.Volatile {
					t.Fatalf("got %s (volatile %v), want a volatile chat:typing", f.Event, f.Volatile)
				}
				if f.Target != (contracts.Target{Kind: "room", Room: "chat:123"}) {
					t.Errorf("target %+v, want room chat:123", f.Target)
				}
				if f.Except == nil || *f.Except != (contracts.Except{SocketID: "sock-a"}) {
					t.Errorf("except %+v, want the sender's socket sock-a", f.Except)
				}
				want := contracts.ChatTypingPayload{UserID: "789", IsTyping: isTyping, VideoID: "123"}
				if got := decode[contracts.ChatTypingPayload](t, f); got != want {
					t.Errorf("payload %+v, want %+v", got, want)
				}
			}
		})
	}
}

// The following tests assert order, or that something was NOT published
// (a later message arrives and nothing came before it), so they need the
// ordered bus; see newOrderedBus.

func TestRateLimitAcrossConnections(t *testing.T) {
	h := start(t, newOrderedBus, nil) // CHAT_RATE_PER_MIN defaults to 10
	sockets := []string{"sock-a", "sock-b"}
	for i := range 10 {
		h.publish(messageEvent(fmt.Sprint("ev-", i), "123", "789", sockets[i%2], fmt.Sprint("message ", i)))
		if f := h.next(); f.Event != contracts.ServerChatMessage {
			t.Fatalf("message %d: got %s, want chat:message", i+1, f.Event)
		}
	}
	h.publish(messageEvent("ev-10", "123", "789", "sock-b", "one too many"))
	f := h.next()
	if f.Event != contracts.ServerError || f.Target != (contracts.Target{Kind: "socket", SocketID: "sock-b", EdgeID: "edge-1"}) || f.Volatile {
		t.Fatalf("11th message: got %s to %+v, want error to sock-b", f.Event, f.Target)
	}
	want := contracts.ErrorPayload{Message: "Rate limit exceeded", Event: "chat:message"}
	if got := decode[contracts.ErrorPayload](t, f); got != want {
		t.Errorf("error %+v, want %+v", got, want)
	}
	// Another video does not help: the limit is per user.
	h.publish(messageEvent("ev-11", "456", "789", "sock-a", "elsewhere"))
	if f := h.next(); f.Event != contracts.ServerError || decode[contracts.ErrorPayload](t, f) != want {
		t.Fatalf("12th message in another video: got %s, want the rate-limit error", f.Event)
	}
	// Other users are not affected.
	h.publish(messageEvent("ev-12", "123", "other", "sock-c", "hello"))
	if f := h.next(); f.Event != contracts.ServerChatMessage {
		t.Fatalf("another user's message: got %s, want chat:message", f.Event)
	}
}

func TestPerVideoOrder(t *testing.T) {
	// The limit is off so that one user can send 100 messages.
	h := start(t, newOrderedBus, map[string]string{"CHAT_RATE_PER_MIN": "0"})
	videos := []string{"v1", "v2"}
	const perVideo = 50
	for i := range perVideo {
		for _, v := range videos {
			h.publish(messageEvent(fmt.Sprintf("ev-%s-%d", v, i), v, "789", "sock-a", fmt.Sprint(i)))
		}
	}
	next := map[string]int{}
	seen := map[string]bool{}
	for range perVideo * len(videos) {
		f := h.next()
		m := decode[contracts.ChatMessagePayload](t, f)
		if want := fmt.Sprint(next[m.VideoID]); m.Message != want {
			t.Fatalf("video %s: got message %q, want %q", m.VideoID, m.Message, want)
		}
		if f.Target.Room != contracts.ChatRoom(m.VideoID) {
			t.Errorf("message of %s sent to %s", m.VideoID, f.Target.Room)
		}
		if seen[m.ID] {
			t.Errorf("message id %s used twice", m.ID)
		}
		seen[m.ID] = true
		next[m.VideoID]++
	}
}

func TestDuplicateEventProducesOneMessage(t *testing.T) {
	h := start(t, newOrderedBus, nil)
	ev := messageEvent("ev-dup", "123", "789", "sock-a", "once")
	h.publish(ev)
	h.publish(ev)
	h.publish(messageEvent("ev-after", "123", "789", "sock-a", "after"))

	first := decode[contracts.ChatMessagePayload](t, h.next())
	second := decode[contracts.ChatMessagePayload](t, h.next())
	if first.Message != "once" || second.Message != "after" {
		t.Fatalf("got %q then %q, want \"once\" then \"after\" and no copy", first.Message, second.Message)
	}
}

func TestRedeliveredEventKeepsItsIDs(t *testing.T) {
	// Two workers (as after a consumer-group rebalance, where the first
	// one's dedupe memory is not shared) handle the same event: both
	// publish the same fan-out and message ids, so edges drop the copy.
	ids := func() (fanoutID, messageID string) {
		h := start(t, bus.NewMemory, nil)
		h.publish(messageEvent("ev-redelivered", "123", "789", "sock-a", "hi"))
		f := h.next()
		return f.ID, decode[contracts.ChatMessagePayload](t, f).ID
	}
	f1, m1 := ids()
	f2, m2 := ids()
	if f1 != f2 || m1 != m2 {
		t.Fatalf("ids differ between deliveries: fan-out %s/%s, message %s/%s", f1, f2, m1, m2)
	}
}

func TestFailedPublishIsRetriedOnce(t *testing.T) {
	// The first fan-out publish fails. The router retries the event; the
	// retry must neither be taken for a duplicate (the message would be
	// lost) nor count against the rate limit a second time (with a limit
	// of 1 it would be refused).
	h := start(t, failFirstFanoutPublish(newOrderedBus), map[string]string{"CHAT_RATE_PER_MIN": "1"})
	h.publish(messageEvent("ev-1", "123", "789", "sock-a", "hello"))
	if f := h.next(); f.Event != contracts.ServerChatMessage {
		t.Fatalf("got %s %s, want the chat:message", f.Event, f.Data)
	}
	h.publish(messageEvent("ev-2", "123", "789", "sock-a", "second"))
	if f := h.next(); f.Event != contracts.ServerError {
		t.Fatalf("got %s, want the rate-limit error: the retried message counts once", f.Event)
	}
}

func TestIgnoresPresenceEvents(t *testing.T) {
	h := start(t, newOrderedBus, nil)
	joined := base("ev-join", contracts.DomainChatJoined, "123", "789", "sock-a")
	h.publish(joined)
	left := base("ev-left", contracts.DomainChatLeft, "123", "789", "sock-a")
	h.publish(left)
	h.publish(messageEvent("ev-msg", "123", "789", "sock-a", "hi"))
	if f := h.next(); f.Event != contracts.ServerChatMessage {
		t.Fatalf("got %s, want only the chat:message", f.Event)
	}
}

func TestInvalidEventIsParked(t *testing.T) {
	h := start(t, newOrderedBus, nil)
	// Breaks the contract: an authenticated socket's event without userId.
	bad := []byte(`{"id":"ev-bad","type":"chat.message_requested","occurredAt":1,"edgeId":"e","socketId":"s","anonymous":false,"videoId":"123","message":"hi"}`)
	go h.publishRaw("ev-bad", "123", bad) // returns once the poison queue took it
	select {
	case r := <-h.poison:
		if r.uuid != "ev-bad" {
			t.Fatalf("poisoned %q, want ev-bad", r.uuid)
		}
	case <-time.After(waitLimit):
		t.Fatal("invalid event not parked on the poison topic")
	}
	// The worker goes on.
	h.publish(messageEvent("ev-ok", "123", "789", "sock-a", "still here"))
	if f := h.next(); f.Event != contracts.ServerChatMessage {
		t.Fatalf("got %s, want chat:message", f.Event)
	}
}

func TestRunTwice(t *testing.T) {
	b := bus.NewMemory(testLogger())
	defer b.Close()
	cfg, err := service.LoadConfig(map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := service.New(cfg, b, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	<-svc.Running()
	if err := svc.Run(ctx); err == nil {
		t.Error("second Run accepted")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}
