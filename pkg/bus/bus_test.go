package bus

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
)

func newTestBus(t *testing.T) *Bus {
	t.Helper()
	b := NewMemory(slog.New(slog.DiscardHandler))
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// runRouter runs handler h on topic until the test ends.
func runRouter(t *testing.T, b *Bus, topic string, h message.NoPublishHandlerFunc, mws ...message.HandlerMiddleware) {
	t.Helper()
	r, err := b.NewRouter()
	if err != nil {
		t.Fatal(err)
	}
	sub, _ := b.Domain.Subscriber("test")
	handler := r.AddConsumerHandler("test", topic, sub, h)
	for _, mw := range mws {
		handler.AddMiddleware(mw)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-r.Running():
	case <-time.After(5 * time.Second):
		t.Fatal("router not running")
	}
}

func TestMemoryKeepsOrder(t *testing.T) {
	b := newTestBus(t)
	got := make(chan string, 200)
	runRouter(t, b, "t", func(m *message.Message) error { got <- string(m.Payload); return nil })
	for i := range 200 {
		if err := b.Domain.Publisher().Publish("t", NewMessage(NewID(), "k", []byte(strconv.Itoa(i)))); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 200 {
		if v := <-got; v != strconv.Itoa(i) {
			t.Fatalf("message %d arrived as %s", i, v)
		}
	}
}

func TestDedupeMarksOnlyAfterSuccess(t *testing.T) {
	b := newTestBus(t)
	var attempts atomic.Int32
	handled := make(chan string, 10)
	runRouter(t, b, "t", func(m *message.Message) error {
		if attempts.Add(1) == 1 {
			return errors.New("transient")
		}
		handled <- m.UUID
		return nil
	}, Dedupe(NewMemoryDedupe(time.Minute)))
	pub := b.Domain.Publisher()
	_ = pub.Publish("t", NewMessage("id-1", "k", []byte("a")))
	_ = pub.Publish("t", NewMessage("id-1", "k", []byte("a"))) // redelivery
	_ = pub.Publish("t", NewMessage("id-2", "k", []byte("b")))
	for _, want := range []string{"id-1", "id-2"} {
		select {
		case id := <-handled:
			if id != want {
				t.Fatalf("handled %s, want %s", id, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s not handled", want)
		}
	}
	if n := attempts.Load(); n != 3 {
		t.Fatalf("%d attempts, want 3 (failure, retry, id-2)", n)
	}
}

func TestPermanentErrorsSkipRetriesToPoison(t *testing.T) {
	b := newTestBus(t)
	sub, _ := b.Domain.Subscriber("poison-reader")
	poisoned, err := sub.Subscribe(t.Context(), TopicPoison)
	if err != nil {
		t.Fatal(err)
	}
	var attempts atomic.Int32
	runRouter(t, b, "t", func(*message.Message) error {
		attempts.Add(1)
		return Permanent(errors.New("breaks the contract"))
	})
	if err := b.Domain.Publisher().Publish("t", NewMessage("bad", "k", []byte("x"))); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-poisoned:
		m.Ack()
		if m.UUID != "bad" {
			t.Fatalf("poisoned %s", m.UUID)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("not parked on the poison queue")
	}
	if n := attempts.Load(); n != 1 {
		t.Fatalf("%d attempts for a permanent error", n)
	}
}

func TestClosingASubscriberKeepsTheSharedBus(t *testing.T) {
	b := newTestBus(t)
	sub, _ := b.Domain.Subscriber("a")
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	sub2, _ := b.Domain.Subscriber("b")
	ch, err := sub2.Subscribe(t.Context(), "t")
	if err != nil {
		t.Fatalf("bus closed by a subscriber: %v", err)
	}
	if err := b.Domain.Publisher().Publish("t", NewMessage("x", "", nil)); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-ch:
		m.Ack()
	case <-time.After(5 * time.Second):
		t.Fatal("nothing delivered")
	}
}

// A handler may publish from inside another handler's chain (presence
// answering a join) without waiting on anyone: no deadlock, even when the
// chain comes back to the first subscriber.
func TestNestedPublishDoesNotBlock(t *testing.T) {
	b := newTestBus(t)
	got := make(chan string, 4)
	runRouter(t, b, "ping", func(m *message.Message) error {
		got <- "ping"
		return b.Domain.Publisher().Publish("pong", NewMessage(NewID(), "", nil))
	})
	r, _ := b.NewRouter()
	sub, _ := b.Domain.Subscriber("pong")
	r.AddConsumerHandler("pong", "pong", sub, func(m *message.Message) error {
		got <- "pong"
		return nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(ctx) }()
	defer func() { cancel(); <-done }()
	<-r.Running()
	if err := b.Domain.Publisher().Publish("ping", NewMessage(NewID(), "", nil)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ping", "pong"} {
		select {
		case v := <-got:
			if v != want {
				t.Fatalf("got %s, want %s", v, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s not handled", want)
		}
	}
}

func TestMemoryDedupeExpires(t *testing.T) {
	d := NewMemoryDedupe(time.Minute)
	now := time.Unix(0, 0)
	d.now = func() time.Time { return now }
	ctx := context.Background()
	_ = d.Mark(ctx, "a")
	if seen, _ := d.Seen(ctx, "a"); !seen {
		t.Fatal("a not seen")
	}
	now = now.Add(2 * time.Minute)
	_ = d.Mark(ctx, "b")
	if seen, _ := d.Seen(ctx, "a"); seen {
		t.Fatal("a did not expire")
	}
	if len(d.ids) != 1 {
		t.Fatalf("%d ids kept", len(d.ids))
	}
}

type failingStore struct{ marks int }

func (f *failingStore) Seen(context.Context, string) (bool, error) { return false, nil }
func (f *failingStore) Mark(context.Context, string) error {
	f.marks++
	return errors.New("store down")
}

func TestDedupeFailedMarkAndIdlessMessages(t *testing.T) {
	store := &failingStore{}
	handled := 0
	h := Dedupe(store)(func(*message.Message) ([]*message.Message, error) { handled++; return nil, nil })
	if _, err := h(message.NewMessage("a", nil)); err != nil {
		t.Fatalf("a failed mark failed a handled message: %v", err)
	}
	for range 2 {
		if _, err := h(message.NewMessage("", nil)); err != nil {
			t.Fatal(err)
		}
	}
	if handled != 3 || store.marks != 1 {
		t.Fatalf("handled %d, marked %d: id-less messages are handled every time and never recorded", handled, store.marks)
	}
}

func TestOnce(t *testing.T) {
	fail := errors.New("handler failed")
	tests := []struct {
		name      string
		calls     []error // what handle returns on each call, one call per entry
		id        string
		wantRuns  int
		wantErrs  int
		wantMarks bool
	}{
		{name: "first call runs and marks", id: "a", calls: []error{nil}, wantRuns: 1, wantMarks: true},
		{name: "a repeat is dropped", id: "a", calls: []error{nil, nil, nil}, wantRuns: 1, wantMarks: true},
		{name: "a failure is not marked: the retry runs", id: "a", calls: []error{fail, nil, nil}, wantRuns: 2, wantErrs: 1, wantMarks: true},
		{name: "no id: always runs, never marks", id: "", calls: []error{nil, nil}, wantRuns: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := NewMemoryDedupe(time.Minute)
			runs, errs := 0, 0
			for _, ret := range tt.calls {
				if err := Once(t.Context(), store, tt.id, func() error { runs++; return ret }); err != nil {
					if !errors.Is(err, fail) {
						t.Fatalf("unexpected error %v", err)
					}
					errs++
				}
			}
			marked, _ := store.Seen(t.Context(), tt.id)
			if runs != tt.wantRuns || errs != tt.wantErrs || marked != tt.wantMarks {
				t.Fatalf("runs %d, errors %d, marked %v; want %d, %d, %v", runs, errs, marked, tt.wantRuns, tt.wantErrs, tt.wantMarks)
			}
		})
	}
}

func TestOnceStoreErrors(t *testing.T) {
	// A failed lookup fails the call (it is retried); a failed mark does not.
	runs := 0
	if err := Once(t.Context(), &failingStore{}, "a", func() error { runs++; return nil }); err != nil || runs != 1 {
		t.Fatalf("failed mark: err %v, runs %d; want nil, 1", err, runs)
	}
	if err := Once(t.Context(), seenFails{}, "a", func() error { runs++; return nil }); err == nil || runs != 1 {
		t.Fatalf("failed lookup: err %v, runs %d; want an error and no run", err, runs)
	}
}

type seenFails struct{}

func (seenFails) Seen(context.Context, string) (bool, error) { return false, errors.New("store down") }
func (seenFails) Mark(context.Context, string) error         { return nil }
