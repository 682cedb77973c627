package app_test

import (
	"context"
	"errors"
	"testing"

	"realtime/contracts"
	"realtime/services/notify/internal/adapters"
	"realtime/services/notify/internal/app"
)

type fanout struct {
	sent []contracts.FanoutMessage
	err  error
}

func (f *fanout) Publish(_ context.Context, m contracts.FanoutMessage) error {
	if f.err != nil {
		return f.err
	}
	f.sent = append(f.sent, m)
	return nil
}

func TestFanoutIDs(t *testing.T) {
	ctx := context.Background()
	f := &fanout{}
	a := app.New(adapters.NewMemoryStore(), f, func() string { return "fresh" })
	view := contracts.PlatformEvent{Type: contracts.PlatformVideoView, VideoID: "1", Timestamp: 1}
	withID := view
	withID.ID = "evt-1"
	for _, ev := range []contracts.PlatformEvent{view, withID, withID} {
		if err := a.RelayPlatformEvent(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	if f.sent[0].ID != "fresh" {
		t.Errorf("an id-less event got fan-out id %q, want a new one", f.sent[0].ID)
	}
	if f.sent[1].ID == "fresh" || f.sent[1].ID != f.sent[2].ID {
		t.Errorf("fan-out ids %q, %q: want one derived from the event id", f.sent[1].ID, f.sent[2].ID)
	}
}

func TestErrorsSayWhetherToRetry(t *testing.T) {
	ctx := context.Background()
	broken := &fanout{err: errors.New("bus down")}
	a := app.New(adapters.NewMemoryStore(), broken, func() string { return "x" })

	err := a.RelayPlatformEvent(ctx, contracts.PlatformEvent{Type: "video.deleted"})
	if !app.IsInvalid(err) {
		t.Errorf("unknown event: %v, want an invalid-event error", err)
	}
	err = a.RelayPlatformEvent(ctx, contracts.PlatformEvent{Type: contracts.PlatformVideoView, VideoID: "1"})
	if err == nil || app.IsInvalid(err) {
		t.Errorf("bus failure: %v, want a retryable error", err)
	}
	// The receipt is stored even when telling the other devices fails; the
	// retry stores it again, harmlessly.
	err = a.MarkNotificationRead(ctx, app.MarkRead{EventID: "e", UserID: "u", SocketID: "s", NotificationID: "n"})
	if err == nil || app.IsInvalid(err) {
		t.Errorf("bus failure: %v, want a retryable error", err)
	}
	if read, _ := a.IsRead(ctx, "u", "n"); !read {
		t.Error("receipt not stored")
	}
	if err := a.SubscribeToChannel(ctx, "", "c"); !app.IsInvalid(err) {
		t.Errorf("subscription without user: %v", err)
	}
}
