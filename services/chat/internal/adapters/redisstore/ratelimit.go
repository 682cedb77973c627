// Package redisstore holds the Redis implementations of the chat worker's
// stores, shared by every chat instance that uses the same Redis and key
// prefix (distributed mode). Keys, under the prefix (normally "chat:"):
//
//	<prefix>rate:<userId>         sorted set: the user's accepted posts in the
//	                              window (member: request id, score: Unix ms);
//	                              expires one window after the newest post
//	<prefix>processed:<eventId>   "1": a handled domain event; expires after
//	                              the dedupe retention
//
// Nothing is kept without a TTL.
package redisstore

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"realtime/services/chat/internal/domain"
)

// allowScript is domain.RateLimit.Allow on the user's sorted set, in one
// atomic step (Redis runs a script alone):
//
//	KEYS[1] the user's sorted set
//	ARGV[1] now (Unix ms)  ARGV[2] now - window (Unix ms)
//	ARGV[3] window (ms)    ARGV[4] max  ARGV[5] the request id
//
// Posts at or before now-window stop counting; a request already counted
// is allowed again without counting twice; else it is counted if fewer
// than max posts count. The key expires one window after its newest post
// (an empty sorted set is deleted by Redis itself). A refusal changes
// nothing.
var allowScript = redis.NewScript(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
if redis.call('ZSCORE', KEYS[1], ARGV[5]) then
  return 1
end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[5])
local newest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')[2]
redis.call('PEXPIRE', KEYS[1], math.max(1, tonumber(newest) - tonumber(ARGV[1]) + tonumber(ARGV[3])))
return 1
`)

// RateLimiter is the per-user sliding-window limit shared by every chat
// instance: one sorted set per user, updated by one Lua script, so that
// concurrent attempts on any number of instances are counted exactly once
// each. Times are the callers' clocks (the instance that accepts a message
// also stamps it), so the instances' clocks should agree (NTP); a skew
// shifts a window's edge by that much.
type RateLimiter struct {
	client redis.UniversalClient
	prefix string
	rule   domain.RateLimit
}

// NewRateLimiter applies rule to the sorted sets <prefix>rate:<userId>.
func NewRateLimiter(client redis.UniversalClient, prefix string, rule domain.RateLimit) *RateLimiter {
	return &RateLimiter{client: client, prefix: prefix, rule: rule}
}

// Allow counts the attempt attemptID of userID at now and reports whether
// it is within the limit (see domain.RateLimit.Allow). The same attemptID
// asked again, on any instance, is allowed without being counted twice.
func (l *RateLimiter) Allow(ctx context.Context, userID, attemptID string, now time.Time) (bool, error) {
	if !l.rule.Enabled() {
		return true, nil
	}
	window := max(l.rule.Window.Milliseconds(), 1)
	at := now.UnixMilli()
	n, err := allowScript.Run(ctx, l.client, []string{l.key(userID)}, at, at-window, window, l.rule.Max, attemptID).Int()
	if err != nil {
		return false, fmt.Errorf("redis rate limit: %w", err)
	}
	return n == 1, nil
}

func (l *RateLimiter) key(userID string) string { return l.prefix + "rate:" + userID }
