package bus

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
)

func TestAckedOffsets(t *testing.T) {
	tests := []struct {
		name    string
		started []int64
		acks    []int64
		want    []int64 // offset to commit after each ack, -1 for none
	}{
		{"in order", []int64{5, 6, 7}, []int64{5, 6, 7}, []int64{6, 7, 8}},
		{"a late first one holds the rest back", []int64{5, 6, 7}, []int64{7, 6, 5}, []int64{-1, -1, 8}},
		{"a gap in the middle", []int64{5, 6, 7, 8}, []int64{5, 7, 8, 6}, []int64{6, -1, -1, 9}},
		{"offsets need not be contiguous", []int64{10, 20, 30}, []int64{20, 10, 30}, []int64{-1, 21, 31}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a ackedOffsets
			for _, o := range tt.started {
				a.start(o)
			}
			for i, o := range tt.acks {
				next, ok := a.done(o)
				got := int64(-1)
				if ok {
					got = next
				}
				if got != tt.want[i] {
					t.Fatalf("ack %d of offset %d: commit %d, want %d", i, o, got, tt.want[i])
				}
			}
		})
	}
}

func TestSubscriberInFlightOnMemoryIsTheSubscriber(t *testing.T) {
	b := newTestBus(t)
	sub, err := SubscriberInFlight(b.Domain, "g", 8, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := sub.(memorySubscriber); !ok {
		t.Fatalf("got %T, want the memory transport's subscriber", sub)
	}
}

// Several messages of one partition are in flight at once, and the
// committed offset never passes one that was not acknowledged: a new
// member of the group gets it again, with everything after it.
func TestKafkaSubscriberInFlight(t *testing.T) {
	b := openReal(t)
	const topic, inFlight, total = "realtime.sessions", 4, 6
	run := NewID()
	key := "edge-" + run // one key: one partition
	for i := range total {
		if err := b.Domain.Publisher().Publish(topic, NewMessage(NewID(), key, fmt.Appendf(nil, "%s:%d", run, i))); err != nil {
			t.Fatal(err)
		}
	}
	// next returns the next message of this run, acknowledging the others.
	next := func(ch <-chan *message.Message) (*message.Message, int) {
		t.Helper()
		for {
			select {
			case m, ok := <-ch:
				if !ok {
					t.Fatal("subscription ended")
				}
				p, mine := strings.CutPrefix(string(m.Payload), run+":")
				if !mine {
					m.Ack()
					continue
				}
				var i int
				fmt.Sscan(p, &i)
				return m, i
			case <-time.After(60 * time.Second):
				t.Fatal("no message")
			}
		}
	}

	first, err := SubscriberInFlight(b.Domain, "inflight", inFlight, nil)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := first.Subscribe(t.Context(), topic)
	if err != nil {
		t.Fatal(err)
	}
	var held []*message.Message
	var got []int
	for range inFlight { // none acknowledged yet: all in flight at once
		m, i := next(ch)
		held = append(held, m)
		got = append(got, i)
	}
	for k, m := range held { // all but the first message of the partition
		if got[k] != 0 {
			m.Ack()
		}
	}
	for range total - inFlight {
		m, i := next(ch)
		m.Ack()
		got = append(got, i)
	}
	slices.Sort(got) // in flight together, they reach the handler in any order
	if !slices.Equal(got, []int{0, 1, 2, 3, 4, 5}) {
		t.Fatalf("delivered %v, want 0 to 5", got)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	for range ch { // closed after the deliveries stopped
	}

	second, err := SubscriberInFlight(b.Domain, "inflight", inFlight, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = second.Close() })
	ch, err = second.Subscribe(t.Context(), topic)
	if err != nil {
		t.Fatal(err)
	}
	got = nil
	for range total {
		m, i := next(ch)
		m.Ack()
		got = append(got, i)
	}
	slices.Sort(got)
	if !slices.Equal(got, []int{0, 1, 2, 3, 4, 5}) {
		t.Fatalf("redelivered %v, want 0 to 5 again: message 0 was never acknowledged", got)
	}
}

func TestKeyOrder(t *testing.T) {
	isClosed := func(c <-chan struct{}) bool {
		select {
		case <-c:
			return true
		default:
			return false
		}
	}
	var o keyOrder
	a1, a1done := o.enter("a")
	b1, b1done := o.enter("b")
	a2, a2done := o.enter("a")
	a3, _ := o.enter("a")
	none, _ := o.enter("")
	for _, c := range []struct {
		name string
		ch   <-chan struct{}
		want bool
	}{
		{"first of a key", a1, true}, {"first of another key", b1, true}, {"no key", none, true},
		{"second of a key", a2, false}, {"third of a key", a3, false},
	} {
		if isClosed(c.ch) != c.want {
			t.Errorf("%s: may go %v, want %v", c.name, !c.want, c.want)
		}
	}
	b1done()
	if isClosed(a2) {
		t.Fatal("another key's message released the second of a")
	}
	a1done()
	if !isClosed(a2) || isClosed(a3) {
		t.Fatal("the first of a finished: the second may go, the third not yet")
	}
	a2done()
	if !isClosed(a3) {
		t.Fatal("the second of a finished: the third may go")
	}
	if b, _ := o.enter("b"); !isClosed(b) {
		t.Fatal("a key whose messages all finished waits for nothing")
	}
}
