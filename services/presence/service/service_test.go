package service_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"realtime/contracts"
	"realtime/pkg/bus"
	"realtime/pkg/bus/bustest"
	"realtime/services/presence/service"
)

// wait bounds every wait for an expected message: generous, because it is
// a failure deadline, not a timing assertion.
const wait = 10 * time.Second

// harness runs the service on an in-memory bus and records every fan-out
// message it publishes, in order. The in-memory bus delivers in publish
// order but Publish does not wait for consumers (as with real brokers), so
// publish waits for presence to acknowledge the event and then for a
// barrier message to come through the fan-out topic: when publish
// returns, the fan-out messages presence sent in reply are in the log.
type harness struct {
	t   *testing.T
	bus *bus.Bus
	reg *contracts.Registry
	// stop ends the service and waits for it; the test's cleanup calls it
	// too.
	stop func()

	ackMu   sync.Mutex
	acks    map[string]int // acknowledgements by presence, per message id
	ackCond *sync.Cond
	barrier chan string

	mu      sync.Mutex
	log     []contracts.FanoutMessage
	arrived chan struct{} // a message was appended
}

// seen is a fan-out message and its position in the log.
type seen struct {
	contracts.FanoutMessage
	pos int
}

func testConfig() service.Config {
	return service.Config{
		CountInterval: 50 * time.Millisecond,
		EdgeTTL:       time.Minute,
		SweepInterval: 10 * time.Millisecond,
	}
}

// seq makes event times increase across every harness of a test binary,
// so that a restarted service never sees a new event as older than one
// the previous instance stored.
var seq atomic.Int64

// start runs a service with opts on a new in-memory bus.
func start(t *testing.T, cfg service.Config, opts ...service.Option) *harness {
	t.Helper()
	reg, err := contracts.Load()
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	b := bus.NewMemory(log)
	t.Cleanup(func() { _ = b.Close() })
	h := &harness{t: t, bus: b, reg: reg, arrived: make(chan struct{}, 1), acks: map[string]int{}, barrier: make(chan string, 1)}
	h.ackCond = sync.NewCond(&h.ackMu)

	ctx, cancel := context.WithCancel(context.Background())
	sub, err := b.Fanout.Subscriber("test")
	if err != nil {
		t.Fatal(err)
	}
	fanout, err := sub.Subscribe(ctx, contracts.TopicFanout)
	if err != nil {
		t.Fatal(err)
	}
	var reader sync.WaitGroup
	reader.Go(func() { h.read(fanout) })

	s, err := service.New(cfg, &bus.Bus{Domain: ackTracking{b.Domain, h}, Fanout: bustest.OneStream(b.Fanout, contracts.TopicFanout), Logger: b.Logger}, log, opts...)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	h.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(wait):
				t.Error("Run did not return after its context ended")
			}
			reader.Wait()
		})
	}
	t.Cleanup(h.stop)
	select {
	case <-s.Running():
	case err := <-done:
		t.Fatalf("Run returned before running: %v", err)
	case <-time.After(wait):
		t.Fatal("service not running")
	}
	return h
}

// read validates every fan-out message against the contract, appends it
// to the log, then acknowledges it.
func (h *harness) read(fanout <-chan *message.Message) {
	for msg := range fanout {
		if id := msg.Metadata.Get("barrier"); id != "" {
			msg.Ack()
			h.barrier <- id
			continue
		}
		if err := h.reg.Validate(contracts.FanoutMessageName, msg.Payload); err != nil {
			h.t.Errorf("fan-out message breaks the contract: %v\n%s", err, msg.Payload)
		}
		var m contracts.FanoutMessage
		if err := json.Unmarshal(msg.Payload, &m); err != nil {
			h.t.Errorf("fan-out message: %v", err)
		}
		if got, want := msg.Metadata.Get(bustest.PublishedTo), contracts.FanoutTopic(m.Target); got != want {
			h.t.Errorf("fan-out message to %+v published on %q, want %q", m.Target, got, want)
		}
		if m.ID == "" || m.ID != msg.UUID {
			h.t.Errorf("fan-out message id %q, message UUID %q", m.ID, msg.UUID)
		}
		h.mu.Lock()
		h.log = append(h.log, m)
		h.mu.Unlock()
		select {
		case h.arrived <- struct{}{}:
		default:
		}
		msg.Ack()
	}
}

// publish sends a domain event, checked against its contract, to its topic
// and returns once presence has handled it.
func (h *harness) publish(ev contracts.DomainEvent) contracts.DomainEvent {
	h.t.Helper()
	return h.publishRaw(ev, true)
}

func (h *harness) publishRaw(ev contracts.DomainEvent, validate bool) contracts.DomainEvent {
	h.t.Helper()
	if ev.ID == "" {
		ev.ID = bus.NewID()
	}
	if ev.OccurredAt == 0 {
		ev.OccurredAt = 1_767_225_600_000 + seq.Add(1)
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		h.t.Fatal(err)
	}
	if validate {
		if err := h.reg.Validate(contracts.DomainMessage(ev.Type), payload); err != nil {
			h.t.Fatalf("test event %s is not valid: %v", ev.Type, err)
		}
	}
	h.ackMu.Lock()
	before := h.acks[ev.ID]
	h.ackMu.Unlock()
	msg := bus.NewMessage(ev.ID, ev.Key(), payload)
	if err := h.bus.Domain.Publisher().Publish(contracts.DomainEventTopic(ev.Type), msg); err != nil {
		h.t.Fatal(err)
	}
	h.waitHandled(ev.ID, before)
	return ev
}

// waitHandled waits until presence acknowledged message id once more than
// before, then until a barrier came through the fan-out topic behind what
// presence published meanwhile.
func (h *harness) waitHandled(id string, before int) {
	h.t.Helper()
	timer := time.AfterFunc(wait, func() {
		h.ackMu.Lock()
		h.acks[id] = -1 << 30 // wakes the waiter, which then fails
		h.ackCond.Broadcast()
		h.ackMu.Unlock()
	})
	h.ackMu.Lock()
	for h.acks[id] == before {
		h.ackCond.Wait()
	}
	handled := h.acks[id] > before
	h.ackMu.Unlock()
	timer.Stop()
	if !handled {
		h.t.Fatalf("presence did not handle %s within %s", id, wait)
	}
	marker := bus.NewID()
	m := bus.NewMessage(marker, "", []byte("{}"))
	m.Metadata.Set("barrier", marker)
	if err := h.bus.Fanout.Publisher().Publish(contracts.TopicFanout, m); err != nil {
		h.t.Fatal(err)
	}
	select {
	case got := <-h.barrier:
		if got != marker {
			h.t.Fatalf("barrier %s, want %s", got, marker)
		}
	case <-time.After(wait):
		h.t.Fatal("fan-out barrier did not come through")
	}
}

// ackTracking is the domain transport as presence sees it, counting what
// presence acknowledges.
type ackTracking struct {
	bus.Transport
	h *harness
}

func (a ackTracking) Subscriber(group string) (message.Subscriber, error) {
	sub, err := a.Transport.Subscriber(group)
	return ackSubscriber{sub, a.h}, err
}

type ackSubscriber struct {
	message.Subscriber
	h *harness
}

func (a ackSubscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	in, err := a.Subscriber.Subscribe(ctx, topic)
	if err != nil {
		return nil, err
	}
	out := make(chan *message.Message)
	go func() {
		defer close(out)
		for msg := range in {
			select {
			case out <- msg:
			case <-ctx.Done():
				return
			}
			select {
			case <-msg.Acked():
			case <-msg.Nacked():
				continue
			case <-ctx.Done():
				return
			}
			a.h.ackMu.Lock()
			a.h.acks[msg.UUID]++
			a.h.ackCond.Broadcast()
			a.h.ackMu.Unlock()
		}
	}()
	return out, nil
}

// expect returns the first fan-out message that matches, waiting for it.
func (h *harness) expect(what string, match func(contracts.FanoutMessage) bool) seen {
	h.t.Helper()
	return h.expectAfter(seen{pos: -1}, what, match)
}

// expectAfter returns the first fan-out message published after prev that
// matches, waiting for it.
func (h *harness) expectAfter(prev seen, what string, match func(contracts.FanoutMessage) bool) seen {
	h.t.Helper()
	deadline := time.After(wait)
	for {
		h.mu.Lock()
		for i := prev.pos + 1; i < len(h.log); i++ {
			if match(h.log[i]) {
				m := h.log[i]
				h.mu.Unlock()
				return seen{m, i}
			}
		}
		h.mu.Unlock()
		select {
		case <-h.arrived:
		case <-deadline:
			h.t.Fatalf("no %s within %s; fan-out so far:%s", what, wait, h.describe())
		}
	}
}

// matching returns the fan-out messages sent so far that match.
func (h *harness) matching(match func(contracts.FanoutMessage) bool) []contracts.FanoutMessage {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []contracts.FanoutMessage
	for _, m := range h.log {
		if match(m) {
			out = append(out, m)
		}
	}
	return out
}

func (h *harness) describe() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var b strings.Builder
	for _, m := range h.log {
		fmt.Fprintf(&b, "\n  %s %+v %s", m.Event, m.Target, m.Data)
	}
	return b.String()
}

// count matches a count event for target with the given count.
func count(event string, target contracts.Target, n int) func(contracts.FanoutMessage) bool {
	return func(m contracts.FanoutMessage) bool {
		if m.Event != event || m.Target != target || !m.Volatile {
			return false
		}
		var p contracts.CountPayload
		return json.Unmarshal(m.Data, &p) == nil && p.VideoID == "123" && p.Count == n
	}
}

func event(name string) func(contracts.FanoutMessage) bool {
	return func(m contracts.FanoutMessage) bool { return m.Event == name }
}

// toSocket is the target of an answer to socket id on edge: presence names
// the edge, so that the answer goes to that edge's stream alone.
func toSocket(edge, id string) contracts.Target {
	return contracts.Target{Kind: contracts.TargetSocket, SocketID: id, EdgeID: edge}
}

func toRoom(room string) contracts.Target {
	return contracts.Target{Kind: contracts.TargetRoom, Room: room}
}

func socketEvent(typ, edge, socket, user string) contracts.DomainEvent {
	anon := user == ""
	return contracts.DomainEvent{Type: typ, EdgeID: edge, SocketID: socket, UserID: user, Anonymous: &anon}
}

func videoEvent(typ, edge, socket, user, video string) contracts.DomainEvent {
	ev := socketEvent(typ, edge, socket, user)
	ev.VideoID = video
	return ev
}

func heartbeat(edge string, ttl time.Duration) contracts.DomainEvent {
	return contracts.DomainEvent{Type: contracts.DomainEdgeHeartbeat, EdgeID: edge, TTLMs: ttl.Milliseconds()}
}

func TestTwoViewersJoin(t *testing.T) {
	forEachStore(t, func(t *testing.T, opts []service.Option) {
		h := start(t, testConfig(), opts...)
		h.publish(videoEvent(contracts.DomainVideoJoined, "edge-1", "s1", "u1", "123"))
		h.expect("count 1 for the first joiner", count(contracts.ServerVideoViewers, toSocket("edge-1", "s1"), 1))
		h.publish(videoEvent(contracts.DomainVideoJoined, "edge-1", "s2", "", "123"))
		h.expect("count 2 for the second joiner", count(contracts.ServerVideoViewers, toSocket("edge-1", "s2"), 2))
		two := h.expect("room broadcast of the final count 2", count(contracts.ServerVideoViewers, toRoom("video:123"), 2))

		h.publish(videoEvent(contracts.DomainVideoLeft, "edge-1", "s2", "", "123"))
		h.expectAfter(two, "room broadcast of count 1 after a leave",
			count(contracts.ServerVideoViewers, toRoom("video:123"), 1))
	})
}

func TestChatters(t *testing.T) {
	forEachStore(t, func(t *testing.T, opts []service.Option) {
		h := start(t, testConfig(), opts...)
		h.publish(videoEvent(contracts.DomainChatJoined, "edge-1", "s1", "u1", "123"))
		h.expect("chatter count 1 for the joiner", count(contracts.ServerChatUserCount, toSocket("edge-1", "s1"), 1))
		h.expect("chat room broadcast of count 1", count(contracts.ServerChatUserCount, toRoom("chat:123"), 1))
		h.publish(videoEvent(contracts.DomainChatLeft, "edge-1", "s1", "u1", "123"))
		h.expect("chat room broadcast of count 0", count(contracts.ServerChatUserCount, toRoom("chat:123"), 0))
	})
}

func TestSessionClosedCorrectsTheCount(t *testing.T) {
	forEachStore(t, func(t *testing.T, opts []service.Option) {
		h := start(t, testConfig(), opts...)
		h.publish(socketEvent(contracts.DomainSessionOpened, "edge-1", "s1", "u1"))
		h.publish(videoEvent(contracts.DomainVideoJoined, "edge-1", "s1", "u1", "123"))
		h.expect("count for the first joiner", count(contracts.ServerVideoViewers, toSocket("edge-1", "s1"), 1))
		h.publish(videoEvent(contracts.DomainVideoJoined, "edge-1", "s2", "u2", "123"))
		h.expect("count for the second joiner", count(contracts.ServerVideoViewers, toSocket("edge-1", "s2"), 2))
		two := h.expect("room broadcast of count 2", count(contracts.ServerVideoViewers, toRoom("video:123"), 2))

		// s1 disconnects without leaving the room.
		h.publish(socketEvent(contracts.DomainSessionClosed, "edge-1", "s1", "u1"))
		h.expectAfter(two, "room broadcast of count 1 after the disconnect",
			count(contracts.ServerVideoViewers, toRoom("video:123"), 1))
	})
}

func TestEdgeLeaseExpiryCorrectsTheCount(t *testing.T) {
	forEachStore(t, func(t *testing.T, opts []service.Option) {
		h := start(t, testConfig(), opts...) // EdgeTTL 1 min: first-sight leases outlive the test
		h.publish(heartbeat("edge-live", time.Hour))
		h.publish(videoEvent(contracts.DomainVideoJoined, "edge-live", "l1", "u1", "123"))
		h.expect("joiner count", count(contracts.ServerVideoViewers, toSocket("edge-live", "l1"), 1))
		h.publish(videoEvent(contracts.DomainVideoJoined, "edge-dying", "d1", "u2", "123"))
		h.expect("joiner count", count(contracts.ServerVideoViewers, toSocket("edge-dying", "d1"), 2))
		h.publish(videoEvent(contracts.DomainVideoJoined, "edge-dying", "d2", "", "123"))
		h.expect("joiner count", count(contracts.ServerVideoViewers, toSocket("edge-dying", "d2"), 3))
		three := h.expect("room broadcast of count 3", count(contracts.ServerVideoViewers, toRoom("video:123"), 3))

		// edge-dying's last heartbeat: a lease of 1ms, never renewed.
		h.publish(heartbeat("edge-dying", time.Millisecond))
		h.expectAfter(three, "room broadcast of count 1 after the lease expired",
			count(contracts.ServerVideoViewers, toRoom("video:123"), 1))

		// The live edge's socket is still counted.
		h.publish(videoEvent(contracts.DomainVideoJoined, "edge-live", "l2", "u3", "123"))
		h.expect("joiner count next to the live edge's socket", count(contracts.ServerVideoViewers, toSocket("edge-live", "l2"), 2))
	})
}

func TestEdgeSeenBeforeItsFirstHeartbeatGetsALease(t *testing.T) {
	forEachStore(t, func(t *testing.T, opts []service.Option) {
		cfg := testConfig()
		cfg.EdgeTTL = 50 * time.Millisecond
		h := start(t, cfg, opts...)
		h.publish(videoEvent(contracts.DomainChatJoined, "edge-silent", "s1", "u1", "123"))
		h.expect("joiner count", count(contracts.ServerChatUserCount, toSocket("edge-silent", "s1"), 1))
		h.expect("chat room broadcast of count 0 after the first-sight lease expired",
			count(contracts.ServerChatUserCount, toRoom("chat:123"), 0))
	})
}

func TestProgressSyncsTheOtherDevicesOnly(t *testing.T) {
	forEachStore(t, func(t *testing.T, opts []service.Option) {
		h := start(t, testConfig(), opts...)
		h.publish(socketEvent(contracts.DomainSessionOpened, "edge-1", "phone", "u1"))
		h.publish(socketEvent(contracts.DomainSessionOpened, "edge-2", "laptop", "u1"))

		ev := videoEvent(contracts.DomainVideoProgress, "edge-1", "phone", "u1", "123")
		pos := 45.5
		ev.Position = &pos
		h.publish(ev)

		m := h.expect("video:sync", event(contracts.ServerVideoSync))
		if want := (contracts.Target{Kind: contracts.TargetUser, UserID: "u1"}); m.Target != want {
			t.Errorf("target %+v, want %+v", m.Target, want)
		}
		if m.Except == nil || *m.Except != (contracts.Except{SocketID: "phone"}) {
			t.Errorf("except %+v, want the reporting socket", m.Except)
		}
		if m.Volatile {
			t.Error("video:sync is volatile")
		}
		var p contracts.VideoSyncPayload
		if err := json.Unmarshal(m.Data, &p); err != nil || p != (contracts.VideoSyncPayload{VideoID: "123", Timestamp: 45.5}) {
			t.Errorf("data %s, want videoId 123 timestamp 45.5", m.Data)
		}
	})
}

func TestAnonymousProgressSyncsNothing(t *testing.T) {
	h := start(t, testConfig())
	pos := 10.0
	ev := videoEvent(contracts.DomainVideoProgress, "edge-1", "s1", "", "123")
	ev.Position = &pos
	h.publishRaw(ev, false) // the contract requires a user on realtime.user
	if got := h.matching(event(contracts.ServerVideoSync)); len(got) != 0 {
		t.Fatalf("anonymous progress sent %v", got)
	}
}

func TestOtherWorkersEventsAreIgnored(t *testing.T) {
	h := start(t, testConfig())
	typing := true
	for _, ev := range []contracts.DomainEvent{
		func() contracts.DomainEvent {
			e := videoEvent(contracts.DomainChatMessageRequested, "edge-1", "s1", "u1", "123")
			e.Message = "Hello!"
			return e
		}(),
		func() contracts.DomainEvent {
			e := videoEvent(contracts.DomainChatTyping, "edge-1", "s1", "u1", "123")
			e.IsTyping = &typing
			return e
		}(),
		func() contracts.DomainEvent {
			e := socketEvent(contracts.DomainNotificationsSubscribed, "edge-1", "s1", "u1")
			e.ChannelID = "456"
			return e
		}(),
	} {
		h.publish(ev)
	}
	if got := h.matching(func(contracts.FanoutMessage) bool { return true }); len(got) != 0 {
		t.Fatalf("presence answered another worker's events: %v", got)
	}
}

func TestRedeliveredEventIsHandledOnce(t *testing.T) {
	forEachStore(t, func(t *testing.T, opts []service.Option) {
		h := start(t, testConfig(), opts...)
		join := h.publish(videoEvent(contracts.DomainVideoJoined, "edge-1", "s1", "u1", "123"))
		h.publish(join) // same id: a redelivery
		if got := h.matching(count(contracts.ServerVideoViewers, toSocket("edge-1", "s1"), 1)); len(got) != 1 {
			t.Fatalf("%d answers to one join, want 1", len(got))
		}
	})
}

func TestBrokenEventGoesToThePoisonQueue(t *testing.T) {
	h := start(t, testConfig())
	sub, err := h.bus.Domain.Subscriber("poison-reader")
	if err != nil {
		t.Fatal(err)
	}
	poisoned, err := sub.Subscribe(t.Context(), bus.TopicPoison)
	if err != nil {
		t.Fatal(err)
	}
	published := make(chan error, 1)
	go func() {
		published <- h.bus.Domain.Publisher().Publish(contracts.TopicVideo, bus.NewMessage("broken-1", "", []byte("{not json")))
	}()
	select {
	case m := <-poisoned:
		m.Ack()
		if m.UUID != "broken-1" {
			t.Fatalf("poisoned %s", m.UUID)
		}
	case <-time.After(wait):
		t.Fatal("broken event not parked on the poison queue")
	}
	if err := <-published; err != nil {
		t.Fatal(err)
	}

	// The handler still works.
	h.publish(videoEvent(contracts.DomainVideoJoined, "edge-1", "s1", "u1", "123"))
	h.expect("joiner count", count(contracts.ServerVideoViewers, toSocket("edge-1", "s1"), 1))
}

func TestStoppingLeavesTheBusToItsOwner(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	b := bus.NewMemory(log)
	defer b.Close()
	s, err := service.New(testConfig(), b, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	select {
	case <-s.Running():
	case <-time.After(wait):
		t.Fatal("service not running")
	}
	if err := s.Run(ctx); err == nil {
		t.Error("second Run succeeded")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(wait):
		t.Fatal("Run did not return")
	}

	// The in-memory bus still works for the services that share it.
	sub, err := b.Domain.Subscriber("other")
	if err != nil {
		t.Fatal(err)
	}
	ch, err := sub.Subscribe(t.Context(), contracts.TopicVideo)
	if err != nil {
		t.Fatalf("bus closed by the stopped service: %v", err)
	}
	published := make(chan error, 1)
	go func() {
		published <- b.Domain.Publisher().Publish(contracts.TopicVideo, bus.NewMessage(bus.NewID(), "", []byte("{}")))
	}()
	select {
	case m := <-ch:
		m.Ack()
	case <-time.After(wait):
		t.Fatal("nothing delivered after the service stopped")
	}
	if err := <-published; err != nil {
		t.Fatal(err)
	}
}
