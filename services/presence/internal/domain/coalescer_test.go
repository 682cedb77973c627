package domain

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// tick is one moment of a coalescing timeline: the count changes in some
// rooms (set), then the broadcast loop runs (Due, Count, Decide) and
// broadcasts sent; or a broadcast fails.
type tick struct {
	at     time.Duration
	set    map[string]int // room → new count, reported with Changed
	other  map[string]int // room → new count set by another instance (not reported)
	sent   []RoomCount    // broadcasts of the loop run at this moment
	failed string         // the room whose broadcast at this moment fails
	next   time.Duration  // when the next room is due after the run; -1 none
}

func TestCoalescerTimeline(t *testing.T) {
	const interval = time.Second
	none := time.Duration(-1)
	tests := []struct {
		name   string
		shared bool // NewSharedCoalescer
		ticks  []tick
	}{
		{
			name: "the first change goes out at once",
			ticks: []tick{
				{at: 0, set: map[string]int{"video:1": 1}, sent: []RoomCount{{"video:1", 1}}, next: none},
			},
		},
		{
			name: "a change in the quiet period waits for its end",
			ticks: []tick{
				{at: 0, set: map[string]int{"video:1": 1}, sent: []RoomCount{{"video:1", 1}}, next: none},
				{at: 200 * time.Millisecond, set: map[string]int{"video:1": 2}, next: interval},
				{at: 999 * time.Millisecond, next: interval},
				{at: interval, sent: []RoomCount{{"video:1", 2}}, next: none},
			},
		},
		{
			name: "many changes coalesce to the final value",
			ticks: []tick{
				{at: 0, set: map[string]int{"video:1": 1}, sent: []RoomCount{{"video:1", 1}}, next: none},
				{at: 100 * time.Millisecond, set: map[string]int{"video:1": 2}, next: interval},
				{at: 200 * time.Millisecond, set: map[string]int{"video:1": 3}, next: interval},
				{at: 300 * time.Millisecond, set: map[string]int{"video:1": 5}, next: interval},
				{at: 1500 * time.Millisecond, sent: []RoomCount{{"video:1", 5}}, next: none},
			},
		},
		{
			name: "a count back at the last sent value is not sent",
			ticks: []tick{
				{at: 0, set: map[string]int{"video:1": 1}, sent: []RoomCount{{"video:1", 1}}, next: none},
				{at: 100 * time.Millisecond, set: map[string]int{"video:1": 2}, next: interval},
				{at: 200 * time.Millisecond, set: map[string]int{"video:1": 1}, next: interval},
				{at: interval, next: none},
				{at: 1100 * time.Millisecond, set: map[string]int{"video:1": 2}, sent: []RoomCount{{"video:1", 2}}, next: none},
			},
		},
		{
			name: "after a quiet interval a change goes out at once",
			ticks: []tick{
				{at: 0, set: map[string]int{"video:1": 1}, sent: []RoomCount{{"video:1", 1}}, next: none},
				{at: 5 * time.Second, set: map[string]int{"video:1": 2}, sent: []RoomCount{{"video:1", 2}}, next: none},
			},
		},
		{
			name: "the quiet period starts at the coalesced broadcast",
			ticks: []tick{
				{at: 0, set: map[string]int{"video:1": 1}, sent: []RoomCount{{"video:1", 1}}, next: none},
				{at: 500 * time.Millisecond, set: map[string]int{"video:1": 2}, next: interval},
				{at: 1200 * time.Millisecond, sent: []RoomCount{{"video:1", 2}}, next: none},
				{at: 1300 * time.Millisecond, set: map[string]int{"video:1": 3}, next: 2200 * time.Millisecond},
				{at: 2200 * time.Millisecond, sent: []RoomCount{{"video:1", 3}}, next: none},
			},
		},
		{
			name: "rooms are independent",
			ticks: []tick{
				{at: 0, set: map[string]int{"video:1": 1, "chat:1": 1}, sent: []RoomCount{{"chat:1", 1}, {"video:1", 1}}, next: none},
				{at: 300 * time.Millisecond, set: map[string]int{"video:1": 2}, next: interval},
				{at: 600 * time.Millisecond, set: map[string]int{"video:2": 7}, sent: []RoomCount{{"video:2", 7}}, next: interval},
				{at: 700 * time.Millisecond, set: map[string]int{"video:2": 8}, next: interval},
				{at: interval, sent: []RoomCount{{"video:1", 2}}, next: 1600 * time.Millisecond},
				{at: 1600 * time.Millisecond, sent: []RoomCount{{"video:2", 8}}, next: none},
			},
		},
		{
			name: "a failed broadcast is retried after the interval",
			ticks: []tick{
				{at: 0, set: map[string]int{"video:1": 1}, failed: "video:1", next: interval},
				{at: 500 * time.Millisecond, next: interval},
				{at: interval, sent: []RoomCount{{"video:1", 1}}, next: none},
			},
		},
		{
			name: "a count that drops to zero is sent",
			ticks: []tick{
				{at: 0, set: map[string]int{"chat:1": 1}, sent: []RoomCount{{"chat:1", 1}}, next: none},
				{at: 100 * time.Millisecond, set: map[string]int{"chat:1": 0}, next: interval},
				{at: interval, sent: []RoomCount{{"chat:1", 0}}, next: none},
			},
		},
		{
			name:   "shared: each broadcast is re-checked one interval later",
			shared: true,
			ticks: []tick{
				{at: 0, set: map[string]int{"video:1": 1}, sent: []RoomCount{{"video:1", 1}}, next: interval},
				{at: interval, next: none},
				{at: 5 * time.Second, set: map[string]int{"video:1": 2}, sent: []RoomCount{{"video:1", 2}}, next: 6 * time.Second},
				{at: 5500 * time.Millisecond, set: map[string]int{"video:1": 3}, next: 6 * time.Second},
				{at: 6 * time.Second, sent: []RoomCount{{"video:1", 3}}, next: 7 * time.Second},
				{at: 7 * time.Second, next: none},
			},
		},
		{
			name:   "shared: a count back at our last sent value is sent (another instance may have sent another)",
			shared: true,
			ticks: []tick{
				{at: 0, set: map[string]int{"video:1": 1}, sent: []RoomCount{{"video:1", 1}}, next: interval},
				{at: 100 * time.Millisecond, set: map[string]int{"video:1": 2}, next: interval},
				{at: 200 * time.Millisecond, set: map[string]int{"video:1": 1}, next: interval},
				{at: interval, sent: []RoomCount{{"video:1", 1}}, next: 2 * interval},
				{at: 2 * interval, next: none},
			},
		},
		{
			name:   "shared: a count changed by another instance after our broadcast is corrected",
			shared: true,
			ticks: []tick{
				{at: 0, set: map[string]int{"video:1": 3}, sent: []RoomCount{{"video:1", 3}}, next: interval},
				{at: 100 * time.Millisecond, other: map[string]int{"video:1": 2}, next: interval},
				{at: interval, sent: []RoomCount{{"video:1", 2}}, next: 2 * interval},
				{at: 2 * interval, next: none},
			},
		},
		{
			name:   "shared: a failed re-check is retried",
			shared: true,
			ticks: []tick{
				{at: 0, set: map[string]int{"video:1": 3}, sent: []RoomCount{{"video:1", 3}}, next: interval},
				{at: 100 * time.Millisecond, other: map[string]int{"video:1": 2}, next: interval},
				{at: interval, failed: "video:1", next: 2 * interval},
				{at: 2 * interval, sent: []RoomCount{{"video:1", 2}}, next: 3 * interval},
				{at: 3 * interval, next: none},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewCoalescer(interval)
			if tt.shared {
				c = NewSharedCoalescer(interval)
			}
			counts := map[string]int{}
			for i, tk := range tt.ticks {
				now := at(tk.at)
				for room, n := range tk.other {
					counts[room] = n
				}
				for room, n := range tk.set {
					counts[room] = n
					c.Changed(room, now)
				}
				var sent []RoomCount
				for _, room := range c.Due(now) {
					if !c.Decide(room, counts[room], now) {
						continue
					}
					if room == tk.failed {
						c.Failed(room, now)
						continue
					}
					sent = append(sent, RoomCount{room, counts[room]})
				}
				slices.SortFunc(sent, func(a, b RoomCount) int { return strings.Compare(a.Room, b.Room) })
				if !slices.Equal(sent, tk.sent) {
					t.Fatalf("tick %d (+%s): sent %v, want %v", i, tk.at, sent, tk.sent)
				}
				next, ok := c.Next()
				switch {
				case tk.next == none && ok:
					t.Fatalf("tick %d (+%s): next due at +%s, want none", i, tk.at, next.Sub(t0))
				case tk.next != none && (!ok || !next.Equal(at(tk.next))):
					t.Fatalf("tick %d (+%s): next due (%v, %v), want +%s", i, tk.at, next.Sub(t0), ok, tk.next)
				}
			}
		})
	}
}

// A room taken by Due and changed again before its broadcast is decided
// waits a whole interval after that broadcast.
func TestCoalescerChangeDuringFlush(t *testing.T) {
	c := NewCoalescer(time.Second)
	c.Changed("video:1", at(0))
	if got := c.Due(at(0)); !slices.Equal(got, []string{"video:1"}) {
		t.Fatalf("Due = %v", got)
	}
	c.Changed("video:1", at(10*time.Millisecond)) // between Due and Decide
	if !c.Decide("video:1", 1, at(20*time.Millisecond)) {
		t.Fatal("first count not sent")
	}
	if got := c.Due(at(500 * time.Millisecond)); len(got) != 0 {
		t.Fatalf("Due within the quiet period = %v", got)
	}
	if next, _ := c.Next(); !next.Equal(at(1020 * time.Millisecond)) {
		t.Fatalf("Next = +%s, want +1.02s", next.Sub(t0))
	}
	if got := c.Due(at(1020 * time.Millisecond)); !slices.Equal(got, []string{"video:1"}) {
		t.Fatalf("Due after the quiet period = %v", got)
	}
}

func TestCoalescerForget(t *testing.T) {
	c := NewCoalescer(time.Second)
	c.Changed("video:1", at(0))
	for _, room := range c.Due(at(0)) {
		c.Decide(room, 1, at(0))
	}
	c.Changed("video:2", at(0))
	c.Forget(at(999 * time.Millisecond))
	if c.Len() != 2 {
		t.Fatalf("Len = %d after early Forget, want 2", c.Len())
	}
	c.Forget(at(time.Second))
	if c.Len() != 1 { // video:2 is still pending
		t.Fatalf("Len = %d, want 1", c.Len())
	}
}
