package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"realtime/pkg/bus"
)

// Outbox errors; both come joined with ErrUnavailable, which is what the
// client is told.
var (
	ErrOutboxFull   = errors.New("outbox: queue full")
	ErrOutboxClosed = errors.New("outbox: shut down")
)

// Outbox defaults, used for zero values of OutboxConfig.
const (
	DefaultOutboxShards   = 256
	DefaultOutboxCapacity = 100_000
	defaultRetryMin       = 50 * time.Millisecond
	defaultRetryMax       = 2 * time.Second
)

// OutboxConfig sizes an Outbox.
type OutboxConfig struct {
	// Shards is how many queues publish at the same time; a socket's
	// events always go through the same one.
	Shards int
	// Capacity bounds the events queued over all shards. A full outbox
	// refuses new events, except session.closed (see Enqueue).
	Capacity int
	// RetryMin and RetryMax bound the backoff between attempts to
	// publish an event the bus refused.
	RetryMin, RetryMax time.Duration
}

// OutboxStats are the outbox's counters, for metrics.
type OutboxStats struct {
	// Queued is how many events wait to be published (a gauge).
	Queued atomic.Int64
	// Published counts events the bus accepted.
	Published atomic.Uint64
	// Failures counts refused publish attempts (each is retried).
	Failures atomic.Uint64
	// Refused counts events not queued because the outbox was full or shut
	// down: the caller got ErrUnavailable.
	Refused atomic.Uint64
	// Dropped counts queued events given up on: a permanent publish error,
	// or still queued when shutdown ran out of time.
	Dropped atomic.Uint64
}

// Outbox publishes events asynchronously, in order per key (a socket id):
// the events of one key go through one shard, whose queue is published
// one event at a time, each retried until the bus accepts it, so that a
// failure never lets a later event overtake an earlier one. Shards publish
// concurrently, so many publishes are in flight at once (the Kafka
// producer batches concurrent sends).
//
// It is meant for events that describe this edge's own live state (the
// membership of its sockets): an event still queued when the process
// dies is lost, and presence then drops the edge's sockets once its lease
// runs out anyway.
//
// Start runs it until Shutdown has drained the queue (or ctx ends);
// Enqueue may be called before Start.
//
// A shard has a goroutine only while it has events: an idle edge holds
// none, and the stacks a burst of connects grew go back to the runtime
// when it is over (256 parked goroutines held ~4 MB of stacks, ~200 bytes
// per connection at 19,000).
type Outbox struct {
	pub      message.Publisher
	log      *slog.Logger
	shards   []*shard
	capacity int64
	retryMin time.Duration
	retryMax time.Duration
	stats    OutboxStats

	ctx     context.Context // Start's, cancelled when Shutdown runs out of time
	workers sync.WaitGroup  // one per shard that has events

	closeOnce sync.Once
	closing   chan struct{} // closed by Shutdown: no new events
	abortOnce sync.Once
	abort     chan struct{} // closed when Shutdown runs out of time
	started   atomic.Bool
	done      chan struct{} // closed when every shard stopped
	full      atomic.Bool   // refusing: logged once per episode
}

type shard struct {
	mu      sync.Mutex
	queue   []outboxEvent
	spare   []outboxEvent // an emptied queue array kept for reuse
	closed  bool
	live    bool // Start has run: events may be published
	running bool // a goroutine is publishing the queue
}

type outboxEvent struct {
	topic, id, key string
	payload        []byte
}

// NewOutbox returns an outbox publishing on pub.
func NewOutbox(pub message.Publisher, cfg OutboxConfig, log *slog.Logger) *Outbox {
	if cfg.Shards <= 0 {
		cfg.Shards = DefaultOutboxShards
	}
	if cfg.Capacity <= 0 {
		cfg.Capacity = DefaultOutboxCapacity
	}
	if cfg.RetryMin <= 0 {
		cfg.RetryMin = defaultRetryMin
	}
	if cfg.RetryMax < cfg.RetryMin {
		cfg.RetryMax = max(defaultRetryMax, cfg.RetryMin)
	}
	o := &Outbox{
		pub:      pub,
		log:      log,
		shards:   make([]*shard, cfg.Shards),
		capacity: int64(cfg.Capacity),
		retryMin: cfg.RetryMin,
		retryMax: cfg.RetryMax,
		closing:  make(chan struct{}),
		abort:    make(chan struct{}),
		done:     make(chan struct{}),
	}
	for i := range o.shards {
		o.shards[i] = &shard{}
	}
	return o
}

// Stats returns the outbox's live counters.
func (o *Outbox) Stats() *OutboxStats { return &o.stats }

// shardOf picks the shard of key: FNV-1a over the string's bytes, inline
// because hash/fnv would allocate a hasher and a byte copy of the key on
// every connect and join.
func (o *Outbox) shardOf(key string) *shard {
	const offset32, prime32 = 2166136261, 16777619
	h := uint32(offset32)
	for i := 0; i < len(key); i++ {
		h ^= uint32(key[i])
		h *= prime32
	}
	return o.shards[h%uint32(len(o.shards))]
}

// Enqueue queues an event for topic, to be published after every event
// queued before it with the same order key. It fails, joined with
// ErrUnavailable, when the outbox is full (ErrOutboxFull) or shut down
// (ErrOutboxClosed). force queues it even when full: for an event that
// comes at most once per socket (session.closed), whose loss would leave
// the socket counted for as long as this edge lives; the queue then
// stays bounded by capacity plus the live sockets.
func (o *Outbox) Enqueue(orderKey, topic, id, key string, payload []byte, force bool) error {
	if !force {
		if o.stats.Queued.Add(1) > o.capacity {
			o.stats.Queued.Add(-1)
			o.stats.Refused.Add(1)
			if o.full.CompareAndSwap(false, true) {
				o.log.Warn("membership outbox full: joins are refused until the bus catches up", "capacity", o.capacity)
			}
			return errors.Join(ErrUnavailable, ErrOutboxFull)
		}
	} else {
		o.stats.Queued.Add(1)
	}
	s := o.shardOf(orderKey)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		o.stats.Queued.Add(-1)
		o.stats.Refused.Add(1)
		return errors.Join(ErrUnavailable, ErrOutboxClosed)
	}
	s.queue = append(s.queue, outboxEvent{topic: topic, id: id, key: key, payload: payload})
	o.runLocked(s)
	s.mu.Unlock()
	return nil
}

// runLocked starts s's goroutine if s has events, none is running and the
// outbox has started. Called with s.mu held.
func (o *Outbox) runLocked(s *shard) {
	if !s.live || s.running || len(s.queue) == 0 {
		return
	}
	s.running = true
	o.workers.Add(1)
	go o.work(s)
}

// take returns every queued event of s, oldest first. When there are none
// it marks s as no longer running, and its goroutine returns.
func (s *shard) take() []outboxEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) == 0 {
		s.running = false
		return nil
	}
	batch := s.queue
	s.queue, s.spare = s.spare[:0], nil
	return batch
}

// Start lets shards publish their events, each on a goroutine of its own
// for as long as it has any, until Shutdown has drained them, or until
// ctx ends (events still queued are then dropped and counted). Call it
// once.
func (o *Outbox) Start(ctx context.Context) {
	if !o.started.CompareAndSwap(false, true) {
		panic("outbox: Start called twice")
	}
	ctx, cancel := context.WithCancel(ctx)
	o.ctx = ctx // before any shard goes live: workers read it
	for _, s := range o.shards {
		s.mu.Lock()
		s.live = true
		o.runLocked(s)
		s.mu.Unlock()
	}
	go func() {
		select {
		case <-o.abort:
		case <-ctx.Done():
		}
		cancel()
	}()
	go func() {
		select {
		case <-o.closing:
			// Every shard is closed: no goroutine starts any more, the
			// running ones drain their queues (or drop them on abort).
		case <-ctx.Done():
			for _, s := range o.shards {
				o.dropRest(s, nil)
			}
		}
		o.workers.Wait()
		cancel()
		close(o.done)
	}()
}

// Done is closed when every shard has stopped, after Start.
func (o *Outbox) Done() <-chan struct{} { return o.done }

// maxSpare is the largest queue array a shard keeps for reuse; a bigger
// one (after a burst) goes to the garbage collector.
const maxSpare = 4096

// work publishes s's events until its queue is empty.
func (o *Outbox) work(s *shard) {
	defer o.workers.Done()
	ctx := o.ctx
	for {
		batch := s.take()
		if batch == nil {
			return
		}
		for i := range batch {
			if ctx.Err() != nil || !o.publish(ctx, &batch[i]) {
				o.dropRest(s, batch[i:])
				s.mu.Lock()
				s.running = false
				s.mu.Unlock()
				return
			}
			if o.stats.Queued.Add(-1) < o.capacity*9/10 && o.full.Load() && o.full.CompareAndSwap(true, false) {
				o.log.Info("membership outbox has room again", "queued", o.stats.Queued.Load())
			}
			batch[i] = outboxEvent{} // release the payload
		}
		if cap(batch) <= maxSpare {
			s.mu.Lock()
			if s.spare == nil {
				s.spare = batch[:0]
			}
			s.mu.Unlock()
		}
	}
}

// dropRest gives up on rest and on whatever s still holds, and closes s.
func (o *Outbox) dropRest(s *shard, rest []outboxEvent) {
	s.mu.Lock()
	n := len(rest) + len(s.queue)
	s.queue = nil
	s.closed = true
	s.mu.Unlock()
	if n > 0 {
		o.stats.Queued.Add(-int64(n))
		o.stats.Dropped.Add(uint64(n))
	}
}

// publish publishes e, retrying with backoff until the bus accepts it or
// refuses it for good (then it is dropped). It returns false only when
// ctx ended first.
func (o *Outbox) publish(ctx context.Context, e *outboxEvent) bool {
	delay := o.retryMin
	for attempt := 1; ; attempt++ {
		msg := bus.NewMessage(e.id, e.key, e.payload)
		msg.SetContext(ctx)
		err := o.pub.Publish(e.topic, msg)
		if err == nil {
			o.stats.Published.Add(1)
			return true
		}
		o.stats.Failures.Add(1)
		if bus.IsPermanent(err) {
			o.stats.Dropped.Add(1)
			o.log.Error("membership event dropped: the bus refused it for good", "topic", e.topic, "id", e.id, "error", err)
			return true
		}
		// The first failure, then one in ten: a broker outage must not
		// flood the log from every shard.
		if attempt%10 == 1 {
			o.log.Warn("membership event not published yet, retrying", "topic", e.topic, "id", e.id, "attempt", attempt, "retry_in", delay.String(), "error", err)
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return false
		}
		delay = min(delay*2, o.retryMax)
	}
}

// Shutdown stops accepting events and waits until every queued one is
// published. If ctx ends first, the events still queued are dropped. It
// returns once every shard has stopped (at once if Start was never
// called); the error says how many events were dropped meanwhile.
func (o *Outbox) Shutdown(ctx context.Context) error {
	o.closeOnce.Do(func() {
		for _, s := range o.shards {
			s.mu.Lock()
			s.closed = true
			s.mu.Unlock()
		}
		close(o.closing)
	})
	dropped := o.stats.Dropped.Load()
	if !o.started.Load() {
		for _, s := range o.shards {
			o.dropRest(s, nil)
		}
	} else {
		select {
		case <-o.done:
		case <-ctx.Done():
			o.abortOnce.Do(func() { close(o.abort) })
			<-o.done
		}
	}
	if n := o.stats.Dropped.Load() - dropped; n > 0 {
		return fmt.Errorf("outbox: %d events not published", n)
	}
	return nil
}
