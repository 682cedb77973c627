package domain

import (
	"container/heap"
	"time"
)

// Coalescer decides when a room's count is broadcast. A busy room changes
// many times a second; its members need the count, not every step:
//
//   - at most one broadcast per room per interval;
//   - the first change after a quiet interval goes out at once;
//   - a change during the quiet period goes out when the period ends, with
//     the count at that moment (the final value is always sent);
//   - a count equal to the last one sent is not sent again.
//
// The caller reports changes with Changed, asks for the rooms that are due
// with Due, reads each room's current count and asks Decide whether to
// send it. Reading the count at send time (not taking it from the change
// that triggered the broadcast) is what makes the last broadcast carry the
// final value even when changes are reported out of order.
//
// Where several instances share the counts (NewSharedCoalescer), each
// instance only knows the broadcasts it sent itself: another instance may
// have sent a different count since, or its broadcast of an older count may
// have gone out after ours. So a shared coalescer sends every change, even
// one back at the count it sent last, and re-reads the count one interval
// after each broadcast it sent, sending it again if it differs: the last
// broadcast of a room carries the final count at most about one interval
// after the last change, whichever instance handled it.
//
// It is a plain data structure, not safe for concurrent use, and has no
// clock: every method takes the current time.
type Coalescer struct {
	interval time.Duration
	shared   bool
	rooms    map[string]*coalesced
	queue    dueQueue // pending rooms, earliest due first
}

type coalesced struct {
	room    string
	pending bool // a change not yet broadcast; the room is in the queue
	verify  bool // pending only to re-check our last broadcast (shared)
	sent    bool // last and sentAt are set
	last    int
	sentAt  time.Time
	due     time.Time // lower bound of when the pending change may go out
	index   int       // in queue
}

// NewCoalescer returns a coalescer allowing one broadcast per room per
// interval, for the only instance that changes the counts.
func NewCoalescer(interval time.Duration) *Coalescer {
	return &Coalescer{interval: interval, rooms: make(map[string]*coalesced)}
}

// NewSharedCoalescer returns a coalescer for one of several instances that
// change the same counts.
func NewSharedCoalescer(interval time.Duration) *Coalescer {
	c := NewCoalescer(interval)
	c.shared = true
	return c
}

// Changed records that room's count may have changed at now.
func (c *Coalescer) Changed(room string, now time.Time) {
	st := c.rooms[room]
	if st == nil {
		st = &coalesced{room: room}
		c.rooms[room] = st
	}
	st.verify = false
	if st.pending {
		return
	}
	st.pending = true
	st.due = now
	if st.sent {
		st.due = later(now, st.sentAt.Add(c.interval))
	}
	heap.Push(&c.queue, st)
}

// Due returns the rooms whose pending change may be broadcast at now, and
// clears their pending mark. Call Decide for each.
func (c *Coalescer) Due(now time.Time) []string {
	var out []string
	for len(c.queue) > 0 && !c.queue[0].due.After(now) {
		st := heap.Pop(&c.queue).(*coalesced)
		// A broadcast may have happened since the room was queued (the
		// room was taken by Due, then changed again before Decide): its
		// quiet period then starts at that broadcast.
		if st.sent {
			if end := st.sentAt.Add(c.interval); end.After(now) {
				st.due = end
				heap.Push(&c.queue, st)
				continue
			}
		}
		st.pending = false
		out = append(out, st.room)
	}
	return out
}

// Decide reports whether count should be broadcast for room at now (it
// differs from the last count sent; shared: it follows a change, or differs
// from the last count sent), and if so records it as sent. A shared
// coalescer then schedules the re-check of the room one interval later.
func (c *Coalescer) Decide(room string, count int, now time.Time) bool {
	st := c.rooms[room]
	if st == nil {
		st = &coalesced{room: room}
		c.rooms[room] = st
	}
	verify := st.verify
	st.verify = false
	if st.sent && st.last == count && (!c.shared || verify) {
		return false
	}
	st.sent, st.last, st.sentAt = true, count, now
	if c.shared && !st.pending {
		st.pending, st.verify, st.due = true, true, now.Add(c.interval)
		heap.Push(&c.queue, st)
	}
	return true
}

// Failed records that the broadcast Decide allowed did not go out: the
// room's count is sent again after the quiet period, whatever it is then.
func (c *Coalescer) Failed(room string, now time.Time) {
	st := c.rooms[room]
	if st == nil {
		return
	}
	st.sent, st.sentAt = false, time.Time{}
	retry := now.Add(c.interval)
	if st.pending {
		if retry.After(st.due) {
			st.due = retry
			heap.Fix(&c.queue, st.index)
		}
		return
	}
	st.pending, st.due = true, retry
	heap.Push(&c.queue, st)
}

// Next returns the earliest time a pending room may become due.
func (c *Coalescer) Next() (time.Time, bool) {
	if len(c.queue) == 0 {
		return time.Time{}, false
	}
	return c.queue[0].due, true
}

// Forget drops the rooms with nothing pending whose last broadcast is at
// least one interval old: they are back to their initial state except that
// an unchanged count would be sent again, which is harmless. This keeps the
// coalescer's size proportional to the rooms active in the last interval.
func (c *Coalescer) Forget(now time.Time) {
	for room, st := range c.rooms {
		if !st.pending && !now.Before(st.sentAt.Add(c.interval)) {
			delete(c.rooms, room)
		}
	}
}

// Len returns the number of rooms the coalescer remembers.
func (c *Coalescer) Len() int { return len(c.rooms) }

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// dueQueue is a min-heap of pending rooms by due time.
type dueQueue []*coalesced

func (q dueQueue) Len() int           { return len(q) }
func (q dueQueue) Less(i, j int) bool { return q[i].due.Before(q[j].due) }
func (q dueQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index = i
	q[j].index = j
}
func (q *dueQueue) Push(x any) {
	st := x.(*coalesced)
	st.index = len(*q)
	*q = append(*q, st)
}
func (q *dueQueue) Pop() any {
	old := *q
	n := len(old)
	st := old[n-1]
	old[n-1] = nil
	st.index = -1
	*q = old[:n-1]
	return st
}
