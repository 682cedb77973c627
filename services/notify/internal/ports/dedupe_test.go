package ports

import (
	"context"
	"errors"
	"log/slog"
	"testing"
)

type failingMarks struct{ marked []string }

func (f *failingMarks) Seen(context.Context, string) (bool, error) { return false, nil }
func (f *failingMarks) Mark(_ context.Context, id string) error {
	f.marked = append(f.marked, id)
	return errors.New("redis down")
}

func TestDedupeMarkFailureIsNotAnError(t *testing.T) {
	store := &failingMarks{}
	d := countingDedupe{DedupeStore: store, h: &Handlers{log: slog.New(slog.DiscardHandler), metrics: &Metrics{}}}
	if err := d.Mark(context.Background(), "ev-1"); err != nil {
		t.Fatalf("Mark = %v: a handled event must not be retried for a failed mark", err)
	}
	if err := d.Mark(context.Background(), ""); err != nil || len(store.marked) != 1 {
		t.Fatalf("Mark(\"\") = %v, store marked %v: an id-less message is not recorded", err, store.marked)
	}
}
