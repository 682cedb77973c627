package domain

import (
	"slices"
	"time"
)

// RateLimit is how many chat messages one user may post: at most Max
// accepted messages in any Window, over all of the user's connections.
//
// The window slides: a message is accepted when the user had fewer than Max
// accepted messages in the Window before it, and each accepted message
// stops counting exactly Window after it was accepted. (The seed's example
// uses a fixed window that resets 60 s after the first message; a sliding
// one never lets a user post 2×Max messages across a reset.) Refused
// attempts do not count, so a user who keeps trying is not locked out for
// longer. Max <= 0 disables the limit.
type RateLimit struct {
	Max    int
	Window time.Duration
}

// Post is one accepted message in a user's recent history, by the id of the
// request that posted it.
type Post struct {
	ID string
	At time.Time
}

// Enabled reports whether the limit applies at all.
func (l RateLimit) Enabled() bool { return l.Max > 0 }

// Allow decides whether the attempt with id, made at now, is within the
// limit, given the user's recent accepted posts. It returns the posts to
// remember: those still inside the window, plus this one when it is
// accepted. It may reuse the storage of recent.
//
// An attempt whose id is already among the recent posts is allowed again
// without being counted twice: a redelivered or retried request gets the
// same answer it got the first time.
func (l RateLimit) Allow(recent []Post, id string, now time.Time) ([]Post, bool) {
	if !l.Enabled() {
		return nil, true
	}
	recent = slices.DeleteFunc(recent, func(p Post) bool { return l.expired(p, now) })
	if slices.ContainsFunc(recent, func(p Post) bool { return p.ID == id }) {
		return recent, true
	}
	if len(recent) >= l.Max {
		return recent, false
	}
	return append(recent, Post{ID: id, At: now}), true
}

// Active reports whether any of posts still counts at now; a store may
// forget a user whose posts are all inactive.
func (l RateLimit) Active(posts []Post, now time.Time) bool {
	return slices.ContainsFunc(posts, func(p Post) bool { return !l.expired(p, now) })
}

// expired: a post counts while now < At+Window. A post from the future (a
// clock step back, or another instance's clock) still counts.
func (l RateLimit) expired(p Post, now time.Time) bool {
	return !now.Before(p.At.Add(l.Window))
}
