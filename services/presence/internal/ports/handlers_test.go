package ports_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"realtime/contracts"
	"realtime/pkg/bus"
	"realtime/services/presence/internal/adapters"
	"realtime/services/presence/internal/app"
	"realtime/services/presence/internal/domain"
	"realtime/services/presence/internal/ports"
)

type recorder struct {
	mu   sync.Mutex
	msgs []contracts.FanoutMessage
}

func (r *recorder) Publish(_ context.Context, m contracts.FanoutMessage) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, m)
	return nil
}

func (r *recorder) take() []contracts.FanoutMessage {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.msgs
	r.msgs = nil
	return out
}

// countingDedupe counts the lookups of a memory dedupe store.
type countingDedupe struct {
	*bus.MemoryDedupe
	mu    sync.Mutex
	seen  int
	marks int
}

func (d *countingDedupe) Seen(ctx context.Context, id string) (bool, error) {
	d.mu.Lock()
	d.seen++
	d.mu.Unlock()
	return d.MemoryDedupe.Seen(ctx, id)
}

func (d *countingDedupe) Mark(ctx context.Context, id string) error {
	d.mu.Lock()
	d.marks++
	d.mu.Unlock()
	return d.MemoryDedupe.Mark(ctx, id)
}

func newHandlers(t *testing.T) (*ports.Handlers, *recorder) {
	h, out, _ := newHandlersWithDedupe(t)
	return h, out
}

func newHandlersWithDedupe(t *testing.T) (*ports.Handlers, *recorder, *countingDedupe) {
	t.Helper()
	out := &recorder{}
	store := adapters.NewMemoryStore(domain.Settings{})
	a, err := app.New(app.Config{CountInterval: time.Second, EdgeTTL: time.Minute, SweepInterval: time.Second},
		store, out, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	dedupe := &countingDedupe{MemoryDedupe: bus.NewMemoryDedupe(time.Minute)}
	return ports.NewHandlers(a, dedupe), out, dedupe
}

func msg(t *testing.T, v any) *message.Message {
	t.Helper()
	payload, ok := v.([]byte)
	if !ok {
		var err error
		if payload, err = json.Marshal(v); err != nil {
			t.Fatal(err)
		}
	}
	return message.NewMessage("m1", payload)
}

func ev(typ, socket, user, video string) contracts.DomainEvent {
	anon := user == ""
	return contracts.DomainEvent{ID: "e1", Type: typ, OccurredAt: 1_767_225_600_000, EdgeID: "edge-1",
		SocketID: socket, UserID: user, Anonymous: &anon, VideoID: video}
}

func TestHandlers(t *testing.T) {
	pos := 12.5
	progress := ev(contracts.DomainVideoProgress, "s1", "u1", "123")
	progress.Position = &pos
	anonWithUser := progress
	anonWithUser.Anonymous = new(true)
	noPosition := ev(contracts.DomainVideoProgress, "s1", "u1", "123")

	tests := []struct {
		name    string
		handler func(*ports.Handlers) message.NoPublishHandlerFunc
		payload any
		events  []string // fan-out events published, in order
		bad     bool     // breaks the contract: a permanent error
	}{
		{"video join answers the joiner", video, ev(contracts.DomainVideoJoined, "s1", "", "123"), []string{"video:viewers"}, false},
		{"video leave publishes nothing at once", video, ev(contracts.DomainVideoLeft, "s1", "", "123"), nil, false},
		{"chat join answers the joiner", chat, ev(contracts.DomainChatJoined, "s1", "u1", "123"), []string{"chat:user-count"}, false},
		{"chat messages belong to the chat worker", chat, ev(contracts.DomainChatMessageRequested, "s1", "u1", "123"), nil, false},
		{"typing belongs to the chat worker", chat, ev(contracts.DomainChatTyping, "s1", "u1", "123"), nil, false},
		{"progress on realtime.user syncs", user, progress, []string{"video:sync"}, false},
		{"progress on realtime.video is accepted too", video, progress, []string{"video:sync"}, false},
		{"an anonymous session has no other devices", user, anonWithUser, nil, false},
		{"progress without a position breaks the contract", user, noPosition, nil, true},
		{"notification reads belong to the notify worker", user, ev(contracts.DomainNotificationRead, "s1", "u1", ""), nil, false},
		{"join without a video breaks the contract", video, ev(contracts.DomainVideoJoined, "s1", "", ""), nil, true},
		{"undecodable payload breaks the contract", video, []byte("{not json"), nil, true},
		{"event without an edge breaks the contract", video, contracts.DomainEvent{Type: contracts.DomainVideoJoined, SocketID: "s1", VideoID: "1"}, nil, true},
		{"session closed without a socket breaks the contract", sessions, contracts.DomainEvent{Type: contracts.DomainSessionClosed, EdgeID: "edge-1"}, nil, true},
		{"another worker's broken event is not judged here", chat, contracts.DomainEvent{Type: contracts.DomainChatTyping}, nil, false},
		{"heartbeat", sessions, contracts.DomainEvent{ID: "e1", Type: contracts.DomainEdgeHeartbeat, EdgeID: "edge-1", TTLMs: 1000}, nil, false},
		{"session opened", sessions, ev(contracts.DomainSessionOpened, "s1", "u1", ""), nil, false},
		{"session closed", sessions, ev(contracts.DomainSessionClosed, "s1", "u1", ""), nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, out := newHandlers(t)
			err := tt.handler(h)(msg(t, tt.payload))
			if tt.bad != (err != nil) || (err != nil && !bus.IsPermanent(err)) {
				t.Fatalf("handler error %v; want a permanent error: %v", err, tt.bad)
			}
			var got []string
			for _, m := range out.take() {
				got = append(got, m.Event)
			}
			if len(got) != len(tt.events) {
				t.Fatalf("published %v, want %v", got, tt.events)
			}
			for i := range got {
				if got[i] != tt.events[i] {
					t.Fatalf("published %v, want %v", got, tt.events)
				}
			}
		})
	}
}

// TestRedeliveries delivers each event twice (same message id): what it
// sends goes out once, and only the events that are not idempotent by
// themselves cost a dedupe lookup (a join's id is checked by the state
// store, in the same step as the join).
func TestRedeliveries(t *testing.T) {
	pos := 12.5
	progress := ev(contracts.DomainVideoProgress, "s1", "u1", "123")
	progress.Position = &pos
	tests := []struct {
		name    string
		handler func(*ports.Handlers) message.NoPublishHandlerFunc
		first   []contracts.DomainEvent // handled once before
		event   contracts.DomainEvent
		events  []string // fan-out events published by both deliveries
		lookups int      // dedupe store Seen calls for both deliveries
	}{
		{"video join answers once", video, nil, ev(contracts.DomainVideoJoined, "s1", "", "123"), []string{"video:viewers"}, 0},
		{"chat join answers once", chat, nil, ev(contracts.DomainChatJoined, "s1", "u1", "123"), []string{"chat:user-count"}, 0},
		{"progress syncs once", user, nil, progress, []string{"video:sync"}, 2},
		{"heartbeat is applied once", sessions, nil, contracts.DomainEvent{ID: "e1", Type: contracts.DomainEdgeHeartbeat, EdgeID: "edge-1", TTLMs: 1000}, nil, 2},
		{"session opened is idempotent", sessions, nil, ev(contracts.DomainSessionOpened, "s1", "u1", ""), nil, 0},
		{"session closed is idempotent", sessions, []contracts.DomainEvent{ev(contracts.DomainVideoJoined, "s1", "u1", "123")}, ev(contracts.DomainSessionClosed, "s1", "u1", ""), nil, 0},
		{"video leave is idempotent", video, []contracts.DomainEvent{ev(contracts.DomainVideoJoined, "s1", "u1", "123")}, ev(contracts.DomainVideoLeft, "s1", "", "123"), nil, 0},
		{"chat leave is idempotent", chat, nil, ev(contracts.DomainChatLeft, "s1", "u1", "123"), nil, 0},
		{"another worker's event costs nothing", chat, nil, ev(contracts.DomainChatMessageRequested, "s1", "u1", "123"), nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, out, dedupe := newHandlersWithDedupe(t)
			for i, e := range tt.first {
				m := msg(t, e)
				m.UUID = "before-" + string(rune('a'+i))
				if err := h.Video(m); err != nil {
					t.Fatal(err)
				}
			}
			out.take()
			dedupe.seen = 0
			for range 2 {
				if err := tt.handler(h)(msg(t, tt.event)); err != nil {
					t.Fatal(err)
				}
			}
			var got []string
			for _, m := range out.take() {
				got = append(got, m.Event)
			}
			if !slices.Equal(got, tt.events) {
				t.Errorf("published %v, want %v", got, tt.events)
			}
			if dedupe.seen != tt.lookups {
				t.Errorf("%d dedupe lookups, want %d", dedupe.seen, tt.lookups)
			}
		})
	}
}

func TestTriggersOnePerTopic(t *testing.T) {
	h, _ := newHandlers(t)
	topics := map[string]bool{}
	for _, tr := range h.Triggers() {
		if topics[tr.Topic] {
			t.Errorf("two handlers for %s", tr.Topic)
		}
		topics[tr.Topic] = true
	}
	for _, typ := range []string{
		contracts.DomainSessionOpened, contracts.DomainSessionClosed, contracts.DomainEdgeHeartbeat,
		contracts.DomainVideoJoined, contracts.DomainVideoLeft, contracts.DomainVideoProgress,
		contracts.DomainChatJoined, contracts.DomainChatLeft,
	} {
		if !topics[contracts.DomainEventTopic(typ)] {
			t.Errorf("no handler for the topic of %s (%s)", typ, contracts.DomainEventTopic(typ))
		}
	}
}

func video(h *ports.Handlers) message.NoPublishHandlerFunc    { return h.Video }
func chat(h *ports.Handlers) message.NoPublishHandlerFunc     { return h.Chat }
func user(h *ports.Handlers) message.NoPublishHandlerFunc     { return h.User }
func sessions(h *ports.Handlers) message.NoPublishHandlerFunc { return h.Sessions }

func TestSocketOrder(t *testing.T) {
	tests := []struct {
		name    string
		payload any
		want    string
	}{
		{"a socket's event", ev(contracts.DomainVideoJoined, "s1", "u1", "123"), "socket:s1"},
		{"a session event", ev(contracts.DomainSessionClosed, "s2", "", ""), "socket:s2"},
		{"progress keeps its user's order", ev(contracts.DomainVideoProgress, "s1", "u1", "123"), "user:u1"},
		{"a heartbeat has no order", contracts.DomainEvent{Type: contracts.DomainEdgeHeartbeat, EdgeID: "edge-1"}, ""},
		{"an undecodable payload has none", []byte("{not json"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ports.SocketOrder(msg(t, tt.payload)); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// The membership and session handlers keep several events in flight, in
// socket order; progress keeps the partition order.
func TestTriggersInFlight(t *testing.T) {
	h, _ := newHandlers(t)
	for _, tr := range h.Triggers() {
		concurrent := tr.Topic != contracts.TopicUser
		if (tr.InFlight > 1) != concurrent || (tr.InFlight > 1 && tr.OrderKey == nil) {
			t.Errorf("%s: in flight %d, order key set %v", tr.Name, tr.InFlight, tr.OrderKey != nil)
		}
	}
}
