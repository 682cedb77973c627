package app_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"realtime/services/chat/internal/adapters/memory"
	"realtime/services/chat/internal/app"
	"realtime/services/chat/internal/domain"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// output is one thing the app asked the fan-out to send.
type output struct {
	kind, id, to, text string
}

type recorder struct {
	out  []output
	fail error // returned (once) by the next call
}

func (r *recorder) take() error {
	err := r.fail
	r.fail = nil
	return err
}

func (r *recorder) ChatMessage(_ context.Context, id string, m domain.ChatMessage) error {
	if err := r.take(); err != nil {
		return err
	}
	r.out = append(r.out, output{"message", id, m.VideoID, m.Text})
	return nil
}

func (r *recorder) Typing(_ context.Context, id string, t domain.Typing) error {
	if err := r.take(); err != nil {
		return err
	}
	r.out = append(r.out, output{"typing", id, t.VideoID, t.UserID})
	return nil
}

func (r *recorder) Refusal(_ context.Context, id string, to domain.Socket, event string, reason domain.Refusal) error {
	if err := r.take(); err != nil {
		return err
	}
	dest := to.ID
	if to.EdgeID != "" {
		dest += "@" + to.EdgeID
	}
	r.out = append(r.out, output{"refusal", id, dest, event + ": " + reason.Error()})
	return nil
}

type failingLimiter struct{}

func (failingLimiter) Allow(context.Context, string, string, time.Time) (bool, error) {
	return false, errors.New("store down")
}

func newApp(limit int, limiter app.RateLimiter) (*app.App, *recorder) {
	if limiter == nil {
		limiter = memory.NewRateLimiter(domain.RateLimit{Max: limit, Window: time.Minute})
	}
	rec := &recorder{}
	return app.New(limiter, rec, func() time.Time { return t0 }, domain.MaxMessageLength), rec
}

var alice = app.Sender{SocketID: "sock-a", EdgeID: "edge-1", UserID: "alice"}

func post(id, text string, from app.Sender) app.PostMessage {
	return app.PostMessage{EventID: id, VideoID: "v1", Text: text, From: from}
}

func TestPostMessageChecks(t *testing.T) {
	tests := []struct {
		name string
		cmd  app.PostMessage
		want output
	}{
		{"accepted", post("e1", " hi ", alice), output{"message", domain.DeriveID(domain.KindFanoutChatMessage, "e1"), "v1", "hi"}},
		{"anonymous flag", post("e2", "hi", app.Sender{SocketID: "s", UserID: "x", Anonymous: true}),
			output{"refusal", domain.DeriveID(domain.KindFanoutError, "e2"), "s", "chat:message: Anonymous users cannot post in chat"}},
		{"no user id is anonymous", post("e3", "hi", app.Sender{SocketID: "s"}),
			output{"refusal", domain.DeriveID(domain.KindFanoutError, "e3"), "s", "chat:message: Anonymous users cannot post in chat"}},
		{"anonymous checked before the text", post("e4", "", app.Sender{SocketID: "s", Anonymous: true}),
			output{"refusal", domain.DeriveID(domain.KindFanoutError, "e4"), "s", "chat:message: Anonymous users cannot post in chat"}},
		{"empty", post("e5", "\t", alice), output{"refusal", domain.DeriveID(domain.KindFanoutError, "e5"), "sock-a@edge-1", "chat:message: Message is empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, rec := newApp(10, nil)
			if err := a.PostMessage(context.Background(), tt.cmd); err != nil {
				t.Fatal(err)
			}
			if len(rec.out) != 1 || rec.out[0] != tt.want {
				t.Fatalf("outputs %+v, want [%+v]", rec.out, tt.want)
			}
		})
	}
}

// A refused message does not use up the user's quota: the rate limit is
// checked after the text.
func TestInvalidMessagesDoNotCount(t *testing.T) {
	ctx := context.Background()
	a, rec := newApp(1, nil)
	_ = a.PostMessage(ctx, post("e1", "   ", alice))
	_ = a.PostMessage(ctx, post("e2", "ok", alice))
	_ = a.PostMessage(ctx, post("e3", "too many", alice))
	got := []string{rec.out[0].text, rec.out[1].kind, rec.out[2].text}
	want := []string{"chat:message: Message is empty", "message", "chat:message: Rate limit exceeded"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("outputs %v, want %v", got, want)
		}
	}
}

func TestRetryAfterPublishFailure(t *testing.T) {
	ctx := context.Background()
	a, rec := newApp(1, nil)
	rec.fail = errors.New("broker down")
	if err := a.PostMessage(ctx, post("e1", "hi", alice)); err == nil {
		t.Fatal("publish failure not returned")
	}
	if err := a.PostMessage(ctx, post("e1", "hi", alice)); err != nil {
		t.Fatal(err)
	}
	if len(rec.out) != 1 || rec.out[0].kind != "message" {
		t.Fatalf("retry gave %+v, want the message (counted once against a limit of 1)", rec.out)
	}
}

func TestRateLimitStoreFailureIsTransient(t *testing.T) {
	a, rec := newApp(0, failingLimiter{})
	if err := a.PostMessage(context.Background(), post("e1", "hi", alice)); err == nil {
		t.Fatal("store failure not returned for a retry")
	}
	if len(rec.out) != 0 {
		t.Fatalf("published %+v without a rate-limit decision", rec.out)
	}
}

func TestSetTyping(t *testing.T) {
	ctx := context.Background()
	a, rec := newApp(10, nil)
	_ = a.SetTyping(ctx, app.SetTyping{EventID: "e1", VideoID: "v1", IsTyping: true, From: alice})
	_ = a.SetTyping(ctx, app.SetTyping{EventID: "e2", VideoID: "v1", IsTyping: true, From: app.Sender{SocketID: "s", Anonymous: true}})
	want := []output{
		{"typing", domain.DeriveID(domain.KindFanoutChatTyping, "e1"), "v1", "alice"},
		{"refusal", domain.DeriveID(domain.KindFanoutError, "e2"), "s", "chat:typing: Anonymous users cannot post in chat"},
	}
	if len(rec.out) != 2 || rec.out[0] != want[0] || rec.out[1] != want[1] {
		t.Fatalf("outputs %+v, want %+v", rec.out, want)
	}
}
