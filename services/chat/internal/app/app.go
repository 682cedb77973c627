// Package app lists the chat worker's use cases in one struct: posting a
// message and showing a typing indicator. It decides; the ports feed it
// domain events and the adapters carry out what it decided.
package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"realtime/contracts"
	"realtime/services/chat/internal/domain"
)

// RateLimiter counts a user's chat messages across all of the user's
// connections and all chat instances. Allow must be atomic (one store
// operation), and idempotent per attempt: the same attemptID, asked again,
// gets the same answer without being counted twice.
type RateLimiter interface {
	Allow(ctx context.Context, userID, attemptID string, now time.Time) (bool, error)
}

// Fanout delivers the worker's outputs to clients. The id of each output
// is given (derived from the causing event), so a repeat is recognisable.
type Fanout interface {
	// ChatMessage goes to everyone in the video's chat.
	ChatMessage(ctx context.Context, id string, m domain.ChatMessage) error
	// Typing goes to everyone in the video's chat except t.SocketID.
	Typing(ctx context.Context, id string, t domain.Typing) error
	// Refusal goes to socket to only, naming the client event refused.
	Refusal(ctx context.Context, id string, to domain.Socket, event string, reason domain.Refusal) error
}

// App is the chat worker's use cases.
type App struct {
	limiter   RateLimiter
	out       Fanout
	now       func() time.Time
	maxLength int
}

// New returns the use cases. now is the server clock (message timestamps,
// rate-limit windows); maxLength the longest message in characters.
func New(limiter RateLimiter, out Fanout, now func() time.Time, maxLength int) *App {
	return &App{limiter: limiter, out: out, now: now, maxLength: maxLength}
}

// Sender is who sent a request: the socket and its edge, and the user
// unless anonymous.
type Sender struct {
	SocketID  string
	EdgeID    string
	UserID    string
	Anonymous bool
}

func (s Sender) anonymous() bool { return s.Anonymous || s.UserID == "" }

// PostMessage is a request to post Text in the chat of VideoID.
type PostMessage struct {
	EventID string // the domain event's id: every output's id derives from it
	VideoID string
	Text    string // raw, as the client sent it
	From    Sender
}

// PostMessage posts a chat message or tells the sender why not: anonymous
// users may not post; the text must be non-empty and short enough once
// cleaned; and the user must be within the rate limit. The rate limit is
// checked last so that a mistyped message does not use up the user's quota.
//
// A returned error is transient (store or bus unavailable): the caller
// retries, and a retry of the same event gives the same result and ids.
func (a *App) PostMessage(ctx context.Context, cmd PostMessage) error {
	if cmd.From.anonymous() {
		return a.refuse(ctx, cmd.EventID, cmd.From, contracts.ClientChatMessage, domain.ErrAnonymous)
	}
	text, err := domain.PrepareMessage(cmd.Text, a.maxLength)
	if refusal, ok := errors.AsType[domain.Refusal](err); ok {
		return a.refuse(ctx, cmd.EventID, cmd.From, contracts.ClientChatMessage, refusal)
	}
	if err != nil {
		return err
	}
	now := a.now()
	ok, err := a.limiter.Allow(ctx, cmd.From.UserID, cmd.EventID, now)
	if err != nil {
		return fmt.Errorf("rate limit: %w", err)
	}
	if !ok {
		return a.refuse(ctx, cmd.EventID, cmd.From, contracts.ClientChatMessage, domain.ErrRateLimited)
	}
	return a.out.ChatMessage(ctx, domain.DeriveID(domain.KindFanoutChatMessage, cmd.EventID), domain.ChatMessage{
		ID:      domain.DeriveID(domain.KindChatMessage, cmd.EventID),
		VideoID: cmd.VideoID,
		UserID:  cmd.From.UserID,
		Text:    text,
		At:      now,
	})
}

// SetTyping is a change of the sender's typing indicator in VideoID's chat.
type SetTyping struct {
	EventID  string
	VideoID  string
	IsTyping bool
	From     Sender
}

// SetTyping tells the chat's other members that the sender is (no longer)
// typing. Anonymous users cannot post, so they cannot type either.
func (a *App) SetTyping(ctx context.Context, cmd SetTyping) error {
	if cmd.From.anonymous() {
		return a.refuse(ctx, cmd.EventID, cmd.From, contracts.ClientChatTyping, domain.ErrAnonymous)
	}
	return a.out.Typing(ctx, domain.DeriveID(domain.KindFanoutChatTyping, cmd.EventID), domain.Typing{
		VideoID:  cmd.VideoID,
		UserID:   cmd.From.UserID,
		SocketID: cmd.From.SocketID,
		IsTyping: cmd.IsTyping,
	})
}

func (a *App) refuse(ctx context.Context, eventID string, from Sender, event string, reason domain.Refusal) error {
	to := domain.Socket{ID: from.SocketID, EdgeID: from.EdgeID}
	return a.out.Refusal(ctx, domain.DeriveID(domain.KindFanoutError, eventID), to, event, reason)
}
