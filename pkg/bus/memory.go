package bus

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
)

// memory is the embedded transport: an in-process pub/sub that behaves
// like the brokers where it matters to business code. Publish never waits
// for consumers (as with Kafka or Redis, a handler may publish from inside
// another handler without deadlock), and each subscription receives its
// messages in publish order, one at a time, the next only after the
// previous was acknowledged (as a Kafka partition does). A nacked message
// is delivered again. Watermill's GoChannel offers either order (by
// blocking the publisher until every consumer acknowledged) or a
// non-blocking publish, not both.
type memory struct {
	mu     sync.Mutex
	subs   map[string][]*memorySub
	closed bool
	wg     sync.WaitGroup
}

// redeliveryDelay spaces out redeliveries of a nacked message.
const redeliveryDelay = 10 * time.Millisecond

var errClosed = errors.New("bus: closed")

func newMemory() *memory { return &memory{subs: make(map[string][]*memorySub)} }

func (m *memory) Publisher() message.Publisher { return memoryPublisher{m} }

// Subscriber ignores the group: the embedded mode runs one instance of
// each service, so every subscriber is the only member of its group.
func (m *memory) Subscriber(string) (message.Subscriber, error) { return memorySubscriber{m}, nil }

// Close ends every subscription and waits for their goroutines.
func (m *memory) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	for _, subs := range m.subs {
		for _, s := range subs {
			s.stop()
		}
	}
	m.subs = nil
	m.mu.Unlock()
	m.wg.Wait()
	return nil
}

type memoryPublisher struct{ m *memory }

func (p memoryPublisher) Publish(topic string, msgs ...*message.Message) error {
	m := p.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errClosed
	}
	for _, msg := range msgs {
		for _, s := range m.subs[topic] {
			s.enqueue(msg)
		}
	}
	return nil
}

// Close is a no-op: the transport owns the pub/sub, not its publishers.
func (memoryPublisher) Close() error { return nil }

type memorySubscriber struct{ m *memory }

// Close is a no-op: a router closing its subscriber must not close the
// pub/sub that every service of the process shares.
func (memorySubscriber) Close() error { return nil }

func (ms memorySubscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	m := ms.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, errClosed
	}
	ctx, cancel := context.WithCancel(ctx)
	s := &memorySub{
		ctx:    ctx,
		cancel: cancel,
		out:    make(chan *message.Message),
		wake:   make(chan struct{}, 1),
	}
	m.subs[topic] = append(m.subs[topic], s)
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		s.deliver()
		m.unsubscribe(topic, s)
	}()
	return s.out, nil
}

func (m *memory) unsubscribe(topic string, s *memorySub) {
	m.mu.Lock()
	defer m.mu.Unlock()
	subs := m.subs[topic]
	for i, x := range subs {
		if x == s {
			m.subs[topic] = append(subs[:i:i], subs[i+1:]...)
			return
		}
	}
}

// memorySub is one subscription: an unbounded FIFO and the goroutine that
// hands its messages out one by one. The goroutine ends with the
// subscription's context or the transport's Close.
type memorySub struct {
	ctx    context.Context
	cancel context.CancelFunc
	out    chan *message.Message
	wake   chan struct{}

	mu    sync.Mutex
	queue []*message.Message
}

func (s *memorySub) stop() { s.cancel() }

func (s *memorySub) enqueue(msg *message.Message) {
	s.mu.Lock()
	s.queue = append(s.queue, msg)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *memorySub) next() (*message.Message, bool) {
	for {
		s.mu.Lock()
		if len(s.queue) > 0 {
			msg := s.queue[0]
			s.queue[0] = nil
			s.queue = s.queue[1:]
			s.mu.Unlock()
			return msg, true
		}
		s.mu.Unlock()
		select {
		case <-s.wake:
		case <-s.ctx.Done():
			return nil, false
		}
	}
}

func (s *memorySub) deliver() {
	defer close(s.out)
	for {
		src, ok := s.next()
		if !ok {
			return
		}
		for {
			// Each attempt gets its own copy: ack state is per delivery.
			msg := src.Copy()
			msg.SetContext(s.ctx)
			select {
			case s.out <- msg:
			case <-s.ctx.Done():
				return
			}
			select {
			case <-msg.Acked():
			case <-msg.Nacked():
				select {
				case <-time.After(redeliveryDelay):
					continue
				case <-s.ctx.Done():
					return
				}
			case <-s.ctx.Done():
				return
			}
			break
		}
	}
}
