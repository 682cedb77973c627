package adapters

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"realtime/services/notify/internal/app"
)

var _ app.Store = (*RedisStore)(nil)

// RedisStore keeps subscriptions and read receipts in Redis, shared by
// every notify instance on the same Redis and key prefix (distributed
// mode). Keys, under the prefix (normally "notify:"):
//
//	<prefix>subs:<userId>   set of the channel ids the user follows; no TTL:
//	                        durable until unsubscribed (Redis deletes a set
//	                        when its last member goes)
//	<prefix>read:<userId>   sorted set of the notification ids the user read
//	                        (score: when, Unix ms); a receipt counts for
//	                        readTTL after it was marked, older ones are
//	                        trimmed on the next MarkRead, and the key expires
//	                        readTTL after the user's last MarkRead, so it
//	                        holds at most one window's reads
//
// Every method is one Redis round trip and idempotent.
type RedisStore struct {
	client  redis.UniversalClient
	prefix  string
	readTTL time.Duration
	now     func() time.Time
}

// NewRedisStore returns a store under prefix that keeps read receipts for
// readTTL (at least a millisecond).
func NewRedisStore(client redis.UniversalClient, prefix string, readTTL time.Duration) *RedisStore {
	return &RedisStore{client: client, prefix: prefix, readTTL: max(readTTL, time.Millisecond), now: time.Now}
}

func (s *RedisStore) subsKey(userID string) string { return s.prefix + "subs:" + userID }
func (s *RedisStore) readKey(userID string) string { return s.prefix + "read:" + userID }

func (s *RedisStore) Subscribe(ctx context.Context, userID, channelID string) error {
	return wrap("subscribe", s.client.SAdd(ctx, s.subsKey(userID), channelID).Err())
}

func (s *RedisStore) Unsubscribe(ctx context.Context, userID, channelID string) error {
	return wrap("unsubscribe", s.client.SRem(ctx, s.subsKey(userID), channelID).Err())
}

func (s *RedisStore) Subscriptions(ctx context.Context, userID string) ([]string, error) {
	out, err := s.client.SMembers(ctx, s.subsKey(userID)).Result()
	if err != nil {
		return nil, wrap("subscriptions", err)
	}
	slices.Sort(out)
	return out, nil
}

// MarkRead adds the receipt, trims the user's receipts older than readTTL
// and renews the key's TTL, in one transaction.
func (s *RedisStore) MarkRead(ctx context.Context, userID, notificationID string) error {
	now := s.now().UnixMilli()
	key := s.readKey(userID)
	_, err := s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.ZAdd(ctx, key, redis.Z{Score: float64(now), Member: notificationID})
		p.ZRemRangeByScore(ctx, key, "-inf", strconv.FormatInt(now-s.readTTL.Milliseconds(), 10))
		p.PExpire(ctx, key, s.readTTL)
		return nil
	})
	return wrap("mark read", err)
}

// IsRead reports whether the receipt was marked within readTTL.
func (s *RedisStore) IsRead(ctx context.Context, userID, notificationID string) (bool, error) {
	at, err := s.client.ZScore(ctx, s.readKey(userID), notificationID).Result()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, wrap("is read", err)
	}
	return int64(at) > s.now().UnixMilli()-s.readTTL.Milliseconds(), nil
}

func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("redis %s: %w", op, err)
}
