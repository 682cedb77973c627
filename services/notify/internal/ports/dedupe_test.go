package ports

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"

	"realtime/pkg/bus"
)

type failingMarks struct{ marked []string }

func (f *failingMarks) Seen(context.Context, string) (bool, error) { return false, nil }
func (f *failingMarks) Mark(_ context.Context, id string) error {
	f.marked = append(f.marked, id)
	return errors.New("redis down")
}

// The dedupe chain notify registers: a failed mark does not fail a handled
// event, and an id-less message is handled but not recorded.
func TestDedupeMarkFailureIsNotAnError(t *testing.T) {
	store := &failingMarks{}
	d := countingDedupe{DedupeStore: store, h: &Handlers{log: slog.New(slog.DiscardHandler), metrics: &Metrics{}}}
	handled := 0
	h := bus.Dedupe(d)(func(*message.Message) ([]*message.Message, error) { handled++; return nil, nil })
	if _, err := h(message.NewMessage("ev-1", nil)); err != nil {
		t.Fatalf("handler = %v: a handled event must not be retried for a failed mark", err)
	}
	if _, err := h(message.NewMessage("", nil)); err != nil || len(store.marked) != 1 || handled != 2 {
		t.Fatalf("id-less message: err %v, store marked %v, handled %d: it is handled, not recorded", err, store.marked, handled)
	}
}
