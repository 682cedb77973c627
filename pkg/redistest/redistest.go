// Package redistest gives a test a client of the Redis at REDIS_ADDR and a
// key prefix of its own, and deletes the test's keys when it ends. Without
// REDIS_ADDR the test is skipped (make test starts a Redis and sets it).
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"slices"
	"testing"

	"github.com/redis/go-redis/v9"
)

// Client returns a client of the Redis at REDIS_ADDR and a key prefix no
// other test uses. Every key under the prefix is deleted, and the client
// closed, when t ends. A REDIS_ADDR that does not answer fails the test.
func Client(t testing.TB) (redis.UniversalClient, string) {
	t.Helper()
	addr := os.Getenv("REDIS_ADDR")
	if addr == "" {
		t.Skip("REDIS_ADDR not set: no Redis to test against (make test starts one)")
	}
	c := redis.NewClient(&redis.Options{Addr: addr})
	if err := c.Ping(context.Background()).Err(); err != nil {
		_ = c.Close()
		t.Fatalf("Redis at REDIS_ADDR=%s: %v", addr, err)
	}
	random := make([]byte, 8)
	_, _ = rand.Read(random)
	prefix := "test:" + hex.EncodeToString(random) + ":"
	t.Cleanup(func() {
		if keys := Keys(t, c, prefix); len(keys) > 0 {
			if err := c.Del(context.Background(), keys...).Err(); err != nil {
				t.Errorf("delete the test's keys: %v", err)
			}
		}
		_ = c.Close()
	})
	return c, prefix
}

// Keys returns the keys under prefix (which must hold no glob characters),
// sorted.
func Keys(t testing.TB, c redis.UniversalClient, prefix string) []string {
	t.Helper()
	var keys []string
	iter := c.Scan(context.Background(), 0, prefix+"*", 1000).Iterator()
	for iter.Next(context.Background()) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Fatalf("scan %s*: %v", prefix, err)
	}
	slices.Sort(keys)
	return keys
}
