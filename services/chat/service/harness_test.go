package service_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
	"go.uber.org/goleak"

	"realtime/contracts"
	"realtime/pkg/bus"
	"realtime/pkg/bus/bustest"
	"realtime/services/chat/service"
)

// TestMain checks that the service leaves no goroutine behind once Run has
// returned and the bus is closed.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// waitLimit only guards against a hung test; nothing is timed.
const waitLimit = 10 * time.Second

func testLogger() *slog.Logger {
	if os.Getenv("CHAT_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// newOrderedBus is the in-memory bus with Kafka's ordering: Publish returns
// only after the subscriber acknowledged the message, so one publisher's
// messages arrive in the order sent. bus.NewMemory does not keep order (its
// GoChannel hands each message to a goroutine of its own), so the tests
// that assert order or the absence of a message use this one.
func newOrderedBus(log *slog.Logger) *bus.Bus {
	wl := watermill.NewSlogLogger(log)
	ordered := func() *orderedMemory {
		return &orderedMemory{gochannel.NewGoChannel(gochannel.Config{
			OutputChannelBuffer:            1024,
			BlockPublishUntilSubscriberAck: true,
		}, wl)}
	}
	return &bus.Bus{Domain: ordered(), Fanout: ordered(), Logger: wl}
}

type orderedMemory struct{ ch *gochannel.GoChannel }

func (m *orderedMemory) Publisher() message.Publisher                  { return m.ch }
func (m *orderedMemory) Subscriber(string) (message.Subscriber, error) { return m.ch, nil }
func (m *orderedMemory) Close() error                                  { return m.ch.Close() }

// failFirstFanoutPublish wraps a bus so that its first fan-out publish
// fails, as a broker hiccup would.
func failFirstFanoutPublish(newBus func(*slog.Logger) *bus.Bus) func(*slog.Logger) *bus.Bus {
	return func(log *slog.Logger) *bus.Bus {
		b := newBus(log)
		b.Fanout = &failingTransport{Transport: b.Fanout}
		return b
	}
}

type failingTransport struct {
	bus.Transport
	failed atomic.Bool
}

func (f *failingTransport) Publisher() message.Publisher { return failingPublisher{f} }

type failingPublisher struct{ f *failingTransport }

func (p failingPublisher) Publish(topic string, msgs ...*message.Message) error {
	if p.f.failed.CompareAndSwap(false, true) {
		return errors.New("broker unavailable")
	}
	return p.f.Transport.Publisher().Publish(topic, msgs...)
}

func (p failingPublisher) Close() error { return nil }

// buses are the transports the order-insensitive tests run on.
var buses = map[string]func(*slog.Logger) *bus.Bus{
	"memory":  bus.NewMemory,
	"ordered": newOrderedBus,
}

// harness runs one chat worker on a bus and collects what it publishes.
type harness struct {
	t      *testing.T
	bus    *bus.Bus
	reg    *contracts.Registry
	fanout <-chan received
	poison <-chan received
}

// received is one message the worker published, with the result of
// validating it against its contract.
type received struct {
	msg     contracts.FanoutMessage
	uuid    string
	raw     []byte
	invalid error
}

// start runs a chat worker, built with opts, on a new bus from newBus and
// the settings in environ; it is stopped when t ends.
func start(t *testing.T, newBus func(*slog.Logger) *bus.Bus, environ map[string]string, opts ...service.Option) *harness {
	t.Helper()
	log := testLogger()
	reg, err := contracts.Load()
	if err != nil {
		t.Fatal(err)
	}
	b := newBus(log)
	t.Cleanup(func() { _ = b.Close() })

	cfg, err := service.LoadConfig(environ)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := service.New(cfg, &bus.Bus{Domain: b.Domain, Fanout: bustest.OneStream(b.Fanout, contracts.TopicFanout), Logger: b.Logger}, log, opts...)
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{t: t, bus: b, reg: reg}
	fanoutDone, poisonDone := make(chan struct{}), make(chan struct{})
	h.fanout = h.collect(ctx, b.Fanout, contracts.TopicFanout, fanoutDone)
	h.poison = h.collect(ctx, b.Domain, bus.TopicPoison, poisonDone)

	runErr := make(chan error, 1)
	go func() { runErr <- svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-runErr:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(waitLimit):
			t.Error("Run did not return after its context ended")
		}
		<-fanoutDone
		<-poisonDone
	})
	select {
	case <-svc.Running():
	case err := <-runErr:
		t.Fatalf("Run: %v", err)
	case <-time.After(waitLimit):
		t.Fatal("service not running")
	}
	return h
}

// collect subscribes to topic and passes on every message, acknowledged at
// once (the ordered bus's publisher waits for that). It stops with ctx.
func (h *harness) collect(ctx context.Context, tr bus.Transport, topic string, done chan<- struct{}) <-chan received {
	h.t.Helper()
	sub, err := tr.Subscriber("test")
	if err != nil {
		h.t.Fatal(err)
	}
	msgs, err := sub.Subscribe(ctx, topic)
	if err != nil {
		h.t.Fatal(err)
	}
	out := make(chan received, 4096)
	go func() {
		defer close(done)
		for m := range msgs {
			r := received{uuid: m.UUID, raw: m.Payload}
			if topic == contracts.TopicFanout {
				r.invalid = h.reg.Validate(contracts.FanoutMessageName, m.Payload)
				if err := json.Unmarshal(m.Payload, &r.msg); err != nil && r.invalid == nil {
					r.invalid = err
				}
				if got, want := m.Metadata.Get(bustest.PublishedTo), contracts.FanoutTopic(r.msg.Target); got != want && r.invalid == nil {
					r.invalid = fmt.Errorf("published on %q, want %q", got, want)
				}
			}
			m.Ack()
			out <- r
		}
	}()
	return out
}

// publish sends a domain event on realtime.chat the way the edge does
// (message UUID = event id, key = video id), after checking that the test
// itself sends what the contract allows.
func (h *harness) publish(ev contracts.DomainEvent) {
	h.t.Helper()
	raw, err := json.Marshal(ev)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.reg.Validate(contracts.DomainEventMessageName, raw); err != nil {
		h.t.Fatalf("test event breaks the contract: %v", err)
	}
	h.publishRaw(ev.ID, ev.Key(), raw)
}

func (h *harness) publishRaw(id, key string, raw []byte) {
	h.t.Helper()
	if err := h.bus.Domain.Publisher().Publish(contracts.TopicChat, bus.NewMessage(id, key, raw)); err != nil {
		h.t.Fatal(err)
	}
}

// next returns the next fan-out message, failing the test if it breaks
// the contract.
func (h *harness) next() contracts.FanoutMessage {
	h.t.Helper()
	select {
	case r := <-h.fanout:
		if r.invalid != nil {
			h.t.Fatalf("fan-out message breaks the contract: %v\n%s", r.invalid, r.raw)
		}
		if r.uuid != r.msg.ID {
			h.t.Errorf("message UUID %q, fan-out id %q: edges dedupe by the id", r.uuid, r.msg.ID)
		}
		return r.msg
	case <-time.After(waitLimit):
		h.t.Fatal("no fan-out message")
	}
	panic("unreachable")
}

// Domain events as the edge builds them.

func messageEvent(id, video, user, socket, text string) contracts.DomainEvent {
	ev := base(id, contracts.DomainChatMessageRequested, video, user, socket)
	ev.Message = text
	return ev
}

func typingEvent(id, video, user, socket string, isTyping bool) contracts.DomainEvent {
	ev := base(id, contracts.DomainChatTyping, video, user, socket)
	ev.IsTyping = &isTyping
	return ev
}

// base: an empty user means an anonymous connection.
func base(id, typ, video, user, socket string) contracts.DomainEvent {
	anonymous := user == ""
	return contracts.DomainEvent{
		ID:         id,
		Type:       typ,
		OccurredAt: time.Now().UnixMilli(),
		EdgeID:     "edge-1",
		SocketID:   socket,
		UserID:     user,
		Anonymous:  &anonymous,
		VideoID:    video,
	}
}

func decode[T any](t *testing.T, f contracts.FanoutMessage) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(f.Data, &v); err != nil {
		t.Fatalf("%s data: %v", f.Event, err)
	}
	return v
}
