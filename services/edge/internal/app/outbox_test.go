package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"realtime/pkg/bus"
)

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// scriptedPublisher records what it accepted and lets a test decide the
// outcome of every attempt.
type scriptedPublisher struct {
	mu       sync.Mutex
	accepted []string // payloads, in the order they were accepted
	attempts map[string]int
	// outcome returns the error of attempt n (1-based) to publish payload;
	// nil accepts it. It may block.
	outcome func(payload string, n int) error
}

func (p *scriptedPublisher) Publish(_ string, msgs ...*message.Message) error {
	for _, m := range msgs {
		payload := string(m.Payload)
		p.mu.Lock()
		if p.attempts == nil {
			p.attempts = map[string]int{}
		}
		p.attempts[payload]++
		n := p.attempts[payload]
		p.mu.Unlock()
		if p.outcome != nil {
			if err := p.outcome(payload, n); err != nil {
				return err
			}
		}
		p.mu.Lock()
		p.accepted = append(p.accepted, payload)
		p.mu.Unlock()
	}
	return nil
}

func (p *scriptedPublisher) Close() error { return nil }

func (p *scriptedPublisher) got() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.accepted...)
}

// startOutbox runs o until the test ends.
func startOutbox(t *testing.T, o *Outbox) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	o.Start(ctx)
	t.Cleanup(func() {
		cancel()
		<-o.Done()
	})
}

func enqueue(t *testing.T, o *Outbox, socket, payload string) {
	t.Helper()
	if err := o.Enqueue(socket, "topic", bus.NewID(), "key", []byte(payload), false); err != nil {
		t.Fatalf("enqueue %s: %v", payload, err)
	}
}

// perSocket groups payloads "<socket>/<n>" by socket, in order.
func perSocket(payloads []string) map[string][]string {
	out := map[string][]string{}
	for _, p := range payloads {
		socket, _, _ := strings.Cut(p, "/")
		out[socket] = append(out[socket], p)
	}
	return out
}

// Each socket's events are accepted once each, in the order they were
// queued, whatever fails and is retried on the way.
func TestOutboxKeepsOrderPerSocketAcrossRetries(t *testing.T) {
	errBroker := errors.New("broker unavailable")
	tests := []struct {
		name    string
		shards  int
		outcome func(payload string, n int) error
	}{
		{"no failures", 4, nil},
		{"every event fails twice", 4, func(_ string, n int) error {
			if n <= 2 {
				return errBroker
			}
			return nil
		}},
		{"one event fails five times", 2, func(p string, n int) error {
			if p == "s3/2" && n <= 5 {
				return errBroker
			}
			return nil
		}},
		{"one shard for every socket", 1, func(p string, n int) error {
			if strings.HasSuffix(p, "/0") && n == 1 {
				return errBroker
			}
			return nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pub := &scriptedPublisher{outcome: tt.outcome}
			o := NewOutbox(pub, OutboxConfig{Shards: tt.shards, RetryMin: time.Microsecond, RetryMax: time.Microsecond}, discard())
			startOutbox(t, o)
			const sockets, events = 8, 20
			want := map[string][]string{}
			for i := range events {
				for s := range sockets {
					p := fmt.Sprintf("s%d/%d", s, i)
					enqueue(t, o, fmt.Sprintf("s%d", s), p)
					want[fmt.Sprintf("s%d", s)] = append(want[fmt.Sprintf("s%d", s)], p)
				}
			}
			if err := o.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
			got := perSocket(pub.got())
			for s, w := range want {
				if strings.Join(got[s], " ") != strings.Join(w, " ") {
					t.Errorf("socket %s: published\n%v\nwant\n%v", s, got[s], w)
				}
			}
			st := o.Stats()
			if st.Published.Load() != sockets*events || st.Queued.Load() != 0 || st.Dropped.Load() != 0 {
				t.Errorf("published %d queued %d dropped %d", st.Published.Load(), st.Queued.Load(), st.Dropped.Load())
			}
		})
	}
}

// keysOnDistinctShards returns n order keys that o puts on n different
// shards.
func keysOnDistinctShards(t *testing.T, o *Outbox, n int) []string {
	t.Helper()
	seen := map[*shard]bool{}
	var keys []string
	for i := 0; len(keys) < n && i < 100_000; i++ {
		k := fmt.Sprintf("socket-%d", i)
		if s := o.shardOf(k); !seen[s] {
			seen[s] = true
			keys = append(keys, k)
		}
	}
	if len(keys) < n {
		t.Fatalf("found keys for %d shards only", len(keys))
	}
	return keys
}

// Shards publish at the same time: every shard's first publish is held
// until all of them are in flight, which only happens if none waits for
// another.
func TestOutboxShardsPublishConcurrently(t *testing.T) {
	const shards = 8
	var mu sync.Mutex
	inFlight := 0
	all := make(chan struct{})
	pub := &scriptedPublisher{outcome: func(_ string, n int) error {
		mu.Lock()
		inFlight++
		if inFlight == shards {
			close(all)
		}
		mu.Unlock()
		select {
		case <-all:
			return nil
		case <-time.After(10 * time.Second):
			return bus.Permanent(errors.New("publishes were not concurrent"))
		}
	}}
	o := NewOutbox(pub, OutboxConfig{Shards: shards}, discard())
	startOutbox(t, o)
	for _, k := range keysOnDistinctShards(t, o, shards) {
		enqueue(t, o, k, k)
	}
	if err := o.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := len(pub.got()); got != shards {
		t.Fatalf("%d of %d events published concurrently", got, shards)
	}
}

// A full outbox refuses events with ErrUnavailable (what the client is
// told), except forced ones; refusals are counted and nothing queued is
// lost.
func TestOutboxBoundedQueue(t *testing.T) {
	pub := &scriptedPublisher{}
	o := NewOutbox(pub, OutboxConfig{Shards: 2, Capacity: 3}, discard())
	// Not running yet: nothing leaves the queue.
	for i := range 3 {
		enqueue(t, o, "s", fmt.Sprintf("s/%d", i))
	}
	err := o.Enqueue("s", "topic", bus.NewID(), "key", []byte("s/refused"), false)
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, ErrOutboxFull) {
		t.Fatalf("enqueue into a full outbox: %v", err)
	}
	if err := o.Enqueue("s", "topic", bus.NewID(), "key", []byte("s/3"), true); err != nil {
		t.Fatalf("forced enqueue into a full outbox: %v", err)
	}
	st := o.Stats()
	if st.Refused.Load() != 1 || st.Queued.Load() != 4 {
		t.Fatalf("refused %d queued %d, want 1 and 4", st.Refused.Load(), st.Queued.Load())
	}
	startOutbox(t, o)
	if err := o.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(pub.got(), " "); got != "s/0 s/1 s/2 s/3" {
		t.Fatalf("published %s", got)
	}
}

// Shutdown publishes everything queued before it returns, then refuses
// new events.
func TestOutboxShutdownDrains(t *testing.T) {
	release := make(chan struct{})
	pub := &scriptedPublisher{outcome: func(string, int) error {
		<-release
		return nil
	}}
	o := NewOutbox(pub, OutboxConfig{Shards: 4}, discard())
	startOutbox(t, o)
	const n = 200
	for i := range n {
		enqueue(t, o, fmt.Sprintf("s%d", i%10), fmt.Sprintf("s%d/%d", i%10, i))
	}
	shutdown := make(chan error, 1)
	go func() { shutdown <- o.Shutdown(context.Background()) }()
	close(release)
	if err := <-shutdown; err != nil {
		t.Fatal(err)
	}
	if got := len(pub.got()); got != n {
		t.Fatalf("published %d of %d before Shutdown returned", got, n)
	}
	err := o.Enqueue("s0", "topic", bus.NewID(), "key", []byte("late"), true)
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, ErrOutboxClosed) {
		t.Fatalf("enqueue after shutdown: %v", err)
	}
	if st := o.Stats(); st.Queued.Load() != 0 || st.Refused.Load() != 1 {
		t.Fatalf("queued %d refused %d", st.Queued.Load(), st.Refused.Load())
	}
}

// When the bus never takes the events, Shutdown gives up when its context
// ends, and says how many were lost.
func TestOutboxShutdownDeadline(t *testing.T) {
	attempted := make(chan struct{})
	var once sync.Once
	pub := &scriptedPublisher{outcome: func(string, int) error {
		once.Do(func() { close(attempted) })
		return errors.New("broker down")
	}}
	o := NewOutbox(pub, OutboxConfig{Shards: 1, RetryMin: time.Millisecond, RetryMax: time.Millisecond}, discard())
	startOutbox(t, o)
	for i := range 5 {
		enqueue(t, o, "s", fmt.Sprintf("s/%d", i))
	}
	<-attempted
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := o.Shutdown(ctx)
	if err == nil || !strings.Contains(err.Error(), "5 events not published") {
		t.Fatalf("Shutdown: %v", err)
	}
	if st := o.Stats(); st.Dropped.Load() != 5 || st.Queued.Load() != 0 || st.Failures.Load() == 0 {
		t.Fatalf("dropped %d queued %d failures %d", st.Dropped.Load(), st.Queued.Load(), st.Failures.Load())
	}
}

// Cancelling Start's context stops every shard, retrying or idle; what was
// queued is dropped and counted, and nothing more is accepted.
func TestOutboxStopsWithContext(t *testing.T) {
	attempted := make(chan struct{})
	var once sync.Once
	pub := &scriptedPublisher{outcome: func(p string, _ int) error {
		if strings.HasPrefix(p, "stuck/") {
			once.Do(func() { close(attempted) })
			return errors.New("broker down")
		}
		return nil
	}}
	o := NewOutbox(pub, OutboxConfig{Shards: 4, RetryMin: time.Hour, RetryMax: time.Hour}, discard())
	ctx, cancel := context.WithCancel(context.Background())
	o.Start(ctx)
	enqueue(t, o, "stuck", "stuck/0")
	enqueue(t, o, "stuck", "stuck/1")
	<-attempted
	cancel()
	<-o.Done()
	if st := o.Stats(); st.Dropped.Load() != 2 || st.Queued.Load() != 0 {
		t.Fatalf("dropped %d queued %d", st.Dropped.Load(), st.Queued.Load())
	}
	for _, k := range keysOnDistinctShards(t, o, 4) {
		if err := o.Enqueue(k, "topic", bus.NewID(), "key", []byte("late"), false); !errors.Is(err, ErrOutboxClosed) {
			t.Fatalf("enqueue on %s after the outbox stopped: %v", k, err)
		}
	}
	if err := o.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown after the outbox stopped: %v", err)
	}
}

// An event the bus refuses for good is dropped (and counted); the
// socket's next events still go out.
func TestOutboxDropsPermanentFailures(t *testing.T) {
	pub := &scriptedPublisher{outcome: func(p string, _ int) error {
		if p == "s/1" {
			return bus.Permanent(errors.New("breaks the contract"))
		}
		return nil
	}}
	o := NewOutbox(pub, OutboxConfig{Shards: 1}, discard())
	startOutbox(t, o)
	for i := range 3 {
		enqueue(t, o, "s", fmt.Sprintf("s/%d", i))
	}
	// Whether the drop happens before Shutdown or during it, it is counted.
	_ = o.Shutdown(context.Background())
	if got := strings.Join(pub.got(), " "); got != "s/0 s/2" {
		t.Fatalf("published %s", got)
	}
	if st := o.Stats(); st.Dropped.Load() != 1 || st.Published.Load() != 2 {
		t.Fatalf("dropped %d published %d", st.Dropped.Load(), st.Published.Load())
	}
}

// Shutdown of an outbox that never started reports what it held.
func TestOutboxShutdownWithoutRun(t *testing.T) {
	o := NewOutbox(&scriptedPublisher{}, OutboxConfig{}, discard())
	enqueue(t, o, "s", "s/0")
	if err := o.Shutdown(context.Background()); err == nil || !strings.Contains(err.Error(), "1 events not published") {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := o.Shutdown(context.Background()); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
}

// An idle outbox holds no goroutine: a shard's goroutine exists only while
// it has events, and a later event starts a new one.
func TestOutboxIdleShardsHoldNoGoroutine(t *testing.T) {
	o := NewOutbox(&scriptedPublisher{}, OutboxConfig{Shards: 64}, discard())
	startOutbox(t, o)
	running := func() int {
		n := 0
		for _, s := range o.shards {
			s.mu.Lock()
			if s.running {
				n++
			}
			s.mu.Unlock()
		}
		return n
	}
	awaitIdle := func() {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for running() > 0 || o.Stats().Queued.Load() > 0 {
			if time.Now().After(deadline) {
				t.Fatalf("%d shards still running, %d queued", running(), o.Stats().Queued.Load())
			}
			time.Sleep(time.Millisecond)
		}
	}
	if n := running(); n != 0 {
		t.Fatalf("%d shards running before any event", n)
	}
	for round := range 2 {
		for i := range 500 {
			enqueue(t, o, fmt.Sprintf("s%d", i), fmt.Sprintf("s%d/%d", i, round))
		}
		awaitIdle()
		if got := o.Stats().Published.Load(); got != uint64(500*(round+1)) {
			t.Fatalf("round %d: published %d", round, got)
		}
	}
}
