package domain_test

import (
	"fmt"
	"testing"
	"time"

	"realtime/services/chat/internal/domain"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// attempt is one request in a rate-limit scenario.
type attempt struct {
	user, id string
	after    time.Duration // since t0
	want     bool
}

// run plays attempts against rule, keeping each user's posts the way a
// store does.
func run(t *testing.T, rule domain.RateLimit, attempts []attempt) {
	t.Helper()
	posts := map[string][]domain.Post{}
	for i, a := range attempts {
		var ok bool
		posts[a.user], ok = rule.Allow(posts[a.user], a.id, t0.Add(a.after))
		if ok != a.want {
			t.Fatalf("attempt %d (user %s, id %s, +%s): allowed = %v, want %v", i, a.user, a.id, a.after, ok, a.want)
		}
	}
}

// burst returns n attempts by user at +after with ids prefix0.., all
// expecting want.
func burst(user, prefix string, n int, after time.Duration, want bool) []attempt {
	out := make([]attempt, n)
	for i := range out {
		out[i] = attempt{user, fmt.Sprintf("%s%d", prefix, i), after, want}
	}
	return out
}

func TestRateLimitAllow(t *testing.T) {
	perMinute := domain.RateLimit{Max: 10, Window: time.Minute}
	tests := []struct {
		name     string
		rule     domain.RateLimit
		attempts []attempt
	}{
		{"10 allowed, the 11th refused", perMinute, append(
			burst("u", "m", 10, 0, true),
			attempt{"u", "m10", time.Second, false},
		)},
		{"refused until the first post is a window old", perMinute, append(
			burst("u", "m", 10, 0, true),
			attempt{"u", "x1", 59*time.Second + 999*time.Millisecond, false},
			attempt{"u", "x2", time.Minute, true},
			attempt{"u", "x3", time.Minute, true}, // the other nine expired too
		)},
		{"the window slides: posts expire one by one", perMinute, []attempt{
			{"u", "a0", 0, true},
			{"u", "a1", 10 * time.Second, true}, {"u", "a2", 10 * time.Second, true},
			{"u", "a3", 10 * time.Second, true}, {"u", "a4", 10 * time.Second, true},
			{"u", "a5", 10 * time.Second, true}, {"u", "a6", 10 * time.Second, true},
			{"u", "a7", 10 * time.Second, true}, {"u", "a8", 10 * time.Second, true},
			{"u", "a9", 30 * time.Second, true},
			{"u", "b0", 59 * time.Second, false},
			{"u", "b1", 60 * time.Second, true},  // a0 expired
			{"u", "b2", 60 * time.Second, false}, // a1..a9 still count
			{"u", "b3", 70 * time.Second, true},  // a1..a8 expired
		}},
		{"no burst of 2x across a reset", perMinute, append(append(
			burst("u", "a", 10, 59*time.Second, true),
			burst("u", "b", 1, 61*time.Second, false)...),
			burst("u", "c", 10, 119*time.Second, true)...,
		)},
		{"refused attempts do not count", perMinute, append(append(
			burst("u", "a", 10, 0, true),
			burst("u", "b", 50, 30*time.Second, false)...),
			burst("u", "c", 10, time.Minute, true)...,
		)},
		{"users are independent", perMinute, append(append(
			burst("alice", "a", 10, 0, true),
			burst("bob", "b", 10, 0, true)...),
			attempt{"alice", "a10", 0, false},
			attempt{"bob", "b10", 0, false},
			attempt{"carol", "c0", 0, true},
		)},
		{"a retried attempt is allowed again and counted once", perMinute, append(
			append(burst("u", "m", 10, 0, true), burst("u", "m", 10, time.Second, true)...),
			attempt{"u", "m10", time.Second, false},
		)},
		{"a refused attempt stays refused when retried", perMinute, append(
			burst("u", "m", 10, 0, true),
			attempt{"u", "late", time.Second, false},
			attempt{"u", "late", 2 * time.Second, false},
			attempt{"u", "late", time.Minute, true},
		)},
		{"limit of 1", domain.RateLimit{Max: 1, Window: time.Minute}, []attempt{
			{"u", "a", 0, true}, {"u", "b", 0, false}, {"u", "c", time.Minute, true},
		}},
		{"0 disables", domain.RateLimit{Max: 0, Window: time.Minute}, burst("u", "m", 1000, 0, true)},
		{"negative disables", domain.RateLimit{Max: -1, Window: time.Minute}, burst("u", "m", 100, 0, true)},
		{"a post from the future still counts", domain.RateLimit{Max: 1, Window: time.Minute}, []attempt{
			{"u", "a", time.Hour, true}, {"u", "b", 0, false},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { run(t, tt.rule, tt.attempts) })
	}
}

func TestRateLimitActive(t *testing.T) {
	rule := domain.RateLimit{Max: 10, Window: time.Minute}
	posts := []domain.Post{{ID: "a", At: t0}, {ID: "b", At: t0.Add(30 * time.Second)}}
	tests := []struct {
		name  string
		posts []domain.Post
		now   time.Time
		want  bool
	}{
		{"none", nil, t0, false},
		{"both count", posts, t0.Add(time.Second), true},
		{"one counts", posts, t0.Add(time.Minute), true},
		{"all expired", posts, t0.Add(90 * time.Second), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := rule.Active(tt.posts, tt.now); got != tt.want {
				t.Errorf("Active = %v, want %v", got, tt.want)
			}
		})
	}
}
