package service_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"realtime/contracts"
	"realtime/pkg/bus"
	"realtime/services/notify/service"
)

// waitLimit only bounds how long a broken test hangs; no assertion depends
// on timing.
const waitLimit = 10 * time.Second

// harness runs the real worker on bus.NewMemory. Two thin, pass-through
// instruments make "nothing else happened" assertions deterministic:
//   - the domain role's subscribers report each message the worker has
//     finished with (acked), so a test knows an event was fully handled;
//   - the fan-out role's publisher records every publish as it happens
//     (the worker publishes before it acks), so after an ack the record is
//     complete.
//
// The fan-out messages themselves are read from a real subscription on
// realtime.fanout and each is validated against the contract.
type harness struct {
	t        *testing.T
	bus      *bus.Bus
	svc      *service.Service
	reg      *contracts.Registry
	fanout   chan contracts.FanoutMessage
	poison   chan *message.Message
	acked    chan string // UUIDs of domain-role messages the worker acked
	recorder *publishRecorder
}

// newHarness starts a worker, built with opts, on a bus of its own; it is
// stopped when t ends.
func newHarness(t *testing.T, opts ...service.Option) *harness {
	t.Helper()
	reg, err := contracts.Load()
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	mem := bus.NewMemory(log)
	h := &harness{
		t:        t,
		reg:      reg,
		fanout:   make(chan contracts.FanoutMessage, 256),
		poison:   make(chan *message.Message, 256),
		acked:    make(chan string, 256),
		recorder: &publishRecorder{},
	}
	h.bus = &bus.Bus{
		Domain: ackReportingTransport{Transport: mem.Domain, acked: h.acked},
		Fanout: recordingTransport{Transport: mem.Fanout, rec: h.recorder},
		Logger: mem.Logger,
	}

	ctx, cancel := context.WithCancel(context.Background())
	var readers sync.WaitGroup
	h.readFanout(ctx, &readers)
	h.readPoison(ctx, &readers)

	cfg, err := service.LoadConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	h.svc, err = service.New(cfg, h.bus, log, opts...)
	if err != nil {
		t.Fatal(err)
	}
	runErr := make(chan error, 1)
	go func() { runErr <- h.svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-runErr; err != nil {
			t.Errorf("Run: %v", err)
		}
		readers.Wait()
		_ = mem.Close()
	})
	select {
	case <-h.svc.Running():
	case err := <-runErr:
		t.Fatalf("Run returned before running: %v", err)
	case <-time.After(waitLimit):
		t.Fatal("worker did not start")
	}
	return h
}

func (h *harness) readFanout(ctx context.Context, wg *sync.WaitGroup) {
	sub, err := h.bus.Fanout.Subscriber("test")
	if err != nil {
		h.t.Fatal(err)
	}
	msgs, err := sub.Subscribe(ctx, contracts.TopicFanout)
	if err != nil {
		h.t.Fatal(err)
	}
	wg.Go(func() {
		for msg := range msgs {
			msg.Ack()
			if err := h.reg.Validate(contracts.FanoutMessageName, msg.Payload); err != nil {
				h.t.Errorf("fan-out message breaks the contract: %v\n%s", err, msg.Payload)
				continue
			}
			var fm contracts.FanoutMessage
			if err := json.Unmarshal(msg.Payload, &fm); err != nil {
				h.t.Errorf("decode fan-out message: %v", err)
				continue
			}
			if fm.ID != msg.UUID {
				h.t.Errorf("fan-out message id %q differs from its transport id %q", fm.ID, msg.UUID)
			}
			h.fanout <- fm
		}
	})
}

func (h *harness) readPoison(ctx context.Context, wg *sync.WaitGroup) {
	sub, err := h.bus.Domain.Subscriber("test-poison")
	if err != nil {
		h.t.Fatal(err)
	}
	msgs, err := sub.Subscribe(ctx, bus.TopicPoison)
	if err != nil {
		h.t.Fatal(err)
	}
	wg.Go(func() {
		for msg := range msgs {
			msg.Ack()
			h.poison <- msg
		}
	})
}

// publish puts payload on a domain-role topic as message id.
func (h *harness) publish(topic, id string, payload any) {
	h.t.Helper()
	raw, ok := payload.([]byte)
	if !ok {
		var err error
		if raw, err = json.Marshal(payload); err != nil {
			h.t.Fatal(err)
		}
	}
	if err := h.bus.Domain.Publisher().Publish(topic, bus.NewMessage(id, "key", raw)); err != nil {
		h.t.Fatal(err)
	}
}

// awaitAcked waits until the worker has finished with the messages ids
// (in any order; each once per delivery).
func (h *harness) awaitAcked(ids ...string) {
	h.t.Helper()
	want := map[string]int{}
	for _, id := range ids {
		want[id]++
	}
	for n := len(ids); n > 0; {
		select {
		case id := <-h.acked:
			if want[id] > 0 {
				want[id]--
				n--
			}
		case <-time.After(waitLimit):
			h.t.Fatalf("worker did not finish with %v", want)
		}
	}
}

func (h *harness) nextFanout() contracts.FanoutMessage {
	h.t.Helper()
	select {
	case m := <-h.fanout:
		return m
	case <-time.After(waitLimit):
		h.t.Fatal("no fan-out message")
		return contracts.FanoutMessage{}
	}
}

func (h *harness) nextPoisoned() *message.Message {
	h.t.Helper()
	select {
	case m := <-h.poison:
		return m
	case <-time.After(waitLimit):
		h.t.Fatal("nothing on the poison queue")
		return nil
	}
}

// ackReportingTransport passes the domain role through and reports every
// message its subscribers' consumer acks.
type ackReportingTransport struct {
	bus.Transport
	acked chan<- string
}

func (t ackReportingTransport) Subscriber(group string) (message.Subscriber, error) {
	sub, err := t.Transport.Subscriber(group)
	if err != nil || group == "test-poison" {
		return sub, err
	}
	return ackReportingSubscriber{Subscriber: sub, acked: t.acked}, nil
}

type ackReportingSubscriber struct {
	message.Subscriber
	acked chan<- string
}

// Subscribe forwards each message and waits for its fate before the next,
// as the transport itself does. The goroutine ends when the subscription
// does.
func (s ackReportingSubscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	in, err := s.Subscriber.Subscribe(ctx, topic)
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
				s.acked <- msg.UUID
			case <-msg.Nacked():
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

// recordingTransport passes the fan-out role through and records every
// message published on it.
type recordingTransport struct {
	bus.Transport
	rec *publishRecorder
}

func (t recordingTransport) Publisher() message.Publisher {
	return recordingPublisher{Publisher: t.Transport.Publisher(), rec: t.rec}
}

type recordingPublisher struct {
	message.Publisher
	rec *publishRecorder
}

func (p recordingPublisher) Publish(topic string, msgs ...*message.Message) error {
	for _, m := range msgs {
		p.rec.add(topic, m.UUID)
	}
	return p.Publisher.Publish(topic, msgs...)
}

type publishRecorder struct {
	mu  sync.Mutex
	ids []string // "topic id"
}

func (r *publishRecorder) add(topic, id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ids = append(r.ids, topic+" "+id)
}

// published returns what was published so far.
func (r *publishRecorder) published() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.ids...)
}
