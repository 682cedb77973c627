package bus

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill-kafka/v3/pkg/kafka"
	"github.com/ThreeDotsLabs/watermill/message"
)

// inFlightTransport is a Transport whose subscribers can hand out several
// messages of one partition at a time.
type inFlightTransport interface {
	subscriberInFlight(group string, inFlight int, orderKey func(*message.Message) string) (message.Subscriber, error)
}

// SubscriberInFlight returns a subscriber of t for group that hands out up
// to inFlight messages of one partition before the first of them is
// acknowledged, for a handler whose events may be applied in any order
// (each message is still delivered until acknowledged, and a partition's
// offset only moves past messages that all were: at least once, as
// always). On Kafka the default subscriber waits for each acknowledgement
// before it delivers the next message, so a partition is handled one event
// at a time; this one keeps several events of a partition in flight, and
// therefore several state-store round trips. orderKey, if not nil, names
// the messages that must keep their order: a message is handed out only
// after every earlier message of the partition with the same non-empty key
// was acknowledged. The in-memory transport has no partitions: it returns
// t.Subscriber(group).
func SubscriberInFlight(t Transport, group string, inFlight int, orderKey func(*message.Message) string) (message.Subscriber, error) {
	if ft, ok := t.(inFlightTransport); ok && inFlight > 1 {
		return ft.subscriberInFlight(group, inFlight, orderKey)
	}
	return t.Subscriber(group)
}

func (k *kafkaTransport) subscriberInFlight(group string, inFlight int, orderKey func(*message.Message) string) (message.Subscriber, error) {
	return &inFlightSubscriber{
		brokers:   k.cfg.KafkaBrokers,
		group:     k.cfg.GroupPrefix + "." + group,
		config:    subscriberSaramaConfig(),
		unmarshal: k.marshaler,
		logger:    k.logger,
		inFlight:  inFlight,
		orderKey:  orderKey,
		closing:   make(chan struct{}),
	}, nil
}

// Retry pauses of inFlightSubscriber, as kafkaTransport.Subscriber's.
const (
	inFlightNackResend = 100 * time.Millisecond
	inFlightReconnect  = time.Second
)

// inFlightSubscriber is a Kafka consumer-group member that keeps up to
// inFlight messages of each claimed partition in flight.
type inFlightSubscriber struct {
	brokers   []string
	group     string
	config    *sarama.Config
	unmarshal kafka.Unmarshaler
	logger    watermill.LoggerAdapter
	inFlight  int
	orderKey  func(*message.Message) string // nil: no order at all

	closing   chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// Subscribe joins the consumer group for topic. The channel is closed once
// ctx ends or the subscriber is closed, after every delivery stopped.
func (s *inFlightSubscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	select {
	case <-s.closing:
		return nil, errors.New("bus: subscriber closed")
	default:
	}
	group, err := sarama.NewConsumerGroup(s.brokers, s.group, s.config)
	if err != nil {
		return nil, err
	}
	out := make(chan *message.Message)
	ctx, cancel := context.WithCancel(ctx)
	fields := watermill.LogFields{"topic": topic, "consumer_group": s.group}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(out)
		defer cancel()
		go func() {
			select {
			case <-s.closing:
				cancel()
			case <-ctx.Done():
			}
		}()
		errsDone := make(chan struct{})
		go func() {
			defer close(errsDone)
			for err := range group.Errors() {
				s.logger.Error("Group consume error", err, fields)
			}
		}()
		h := &inFlightHandler{s: s, ctx: ctx, out: out}
		for ctx.Err() == nil {
			// Consume returns at each rebalance, after every claim ended.
			if err := group.Consume(ctx, []string{topic}, h); err != nil && ctx.Err() == nil {
				s.logger.Error("Group consume error", err, fields)
				select {
				case <-ctx.Done():
				case <-time.After(inFlightReconnect):
				}
			}
		}
		if err := group.Close(); err != nil {
			s.logger.Error("Cannot close consumer group", err, fields)
		}
		<-errsDone
	}()
	return out, nil
}

// Close ends every subscription and waits until they stopped.
func (s *inFlightSubscriber) Close() error {
	s.closeOnce.Do(func() { close(s.closing) })
	s.wg.Wait()
	return nil
}

// inFlightHandler is the sarama handler of one subscription.
type inFlightHandler struct {
	s   *inFlightSubscriber
	ctx context.Context // the subscription's: the messages' context
	out chan<- *message.Message
}

func (h *inFlightHandler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (h *inFlightHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }

// ConsumeClaim delivers the partition's messages, up to inFlight at once,
// and marks the offset up to which every message was acknowledged. It
// returns when the claim ends (rebalance, shutdown) after its deliveries
// stopped; a message not acknowledged by then is delivered again to the
// partition's next owner.
func (h *inFlightHandler) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	done := sess.Context().Done()
	slots := make(chan struct{}, h.s.inFlight)
	var deliveries sync.WaitGroup
	defer deliveries.Wait()
	var acked ackedOffsets
	var order keyOrder
	for {
		var km *sarama.ConsumerMessage
		select {
		case km = <-claim.Messages():
			if km == nil {
				return nil
			}
		case <-done:
			return nil
		}
		select {
		case slots <- struct{}{}:
		case <-done:
			return nil
		}
		msg, err := h.s.unmarshal.Unmarshal(km)
		if err != nil {
			<-slots
			// As the default subscriber: no redelivery can fix it.
			return err
		}
		acked.start(km.Offset)
		var key string
		if h.s.orderKey != nil {
			key = h.s.orderKey(msg)
		}
		after, finished := order.enter(key)
		deliveries.Go(func() {
			defer func() { <-slots }()
			defer finished()
			select {
			case <-after: // the previous message with this key was acknowledged
			case <-done:
				return
			}
			if h.deliver(done, msg) {
				if next, ok := acked.done(km.Offset); ok {
					sess.MarkOffset(km.Topic, km.Partition, next, "")
				}
			}
		})
	}
}

// deliver hands msg out until it is acknowledged (true), resending it
// after a nack, or until the claim ends (false).
func (h *inFlightHandler) deliver(done <-chan struct{}, msg *message.Message) bool {
	for {
		ctx, cancel := context.WithCancel(h.ctx)
		msg.SetContext(ctx)
		select {
		case h.out <- msg:
		case <-done:
			cancel()
			return false
		}
		select {
		case <-msg.Acked():
			cancel()
			return true
		case <-msg.Nacked():
			cancel()
			msg = msg.Copy()
			select {
			case <-time.After(inFlightNackResend):
			case <-done:
				return false
			}
		case <-done:
			cancel()
			return false
		}
	}
}

// ackedOffsets tracks the messages of one partition in flight, in offset
// order, and tells how far the partition's offset may move.
type ackedOffsets struct {
	mu      sync.Mutex
	pending []int64        // started, not yet below the marked offset; ascending
	acked   map[int64]bool // acknowledged among pending
}

func (a *ackedOffsets) start(offset int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.pending = append(a.pending, offset)
}

// done records offset as acknowledged. If that completes a run of
// acknowledged messages at the start of the pending ones, it returns the
// offset to commit (the one after the run) and true.
func (a *ackedOffsets) done(offset int64) (int64, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.acked == nil {
		a.acked = make(map[int64]bool)
	}
	a.acked[offset] = true
	n := 0
	for n < len(a.pending) && a.acked[a.pending[n]] {
		delete(a.acked, a.pending[n])
		n++
	}
	if n == 0 {
		return 0, false
	}
	next := a.pending[n-1] + 1
	a.pending = a.pending[n:]
	return next, true
}

// keyOrder chains the messages in flight that share a key.
type keyOrder struct {
	mu   sync.Mutex
	last map[string]chan struct{} // key → closed when its latest message is finished
}

// closedChan is the wait of a message with no predecessor.
var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// enter registers a message with key: after is closed once the previous
// message with that key is finished; finished marks this one finished. An
// empty key waits for nothing.
func (o *keyOrder) enter(key string) (after <-chan struct{}, finished func()) {
	if key == "" {
		return closedChan, func() {}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.last == nil {
		o.last = make(map[string]chan struct{})
	}
	after = closedChan
	if prev, ok := o.last[key]; ok {
		after = prev
	}
	mine := make(chan struct{})
	o.last[key] = mine
	return after, func() {
		close(mine)
		o.mu.Lock()
		if o.last[key] == mine {
			delete(o.last, key)
		}
		o.mu.Unlock()
	}
}
