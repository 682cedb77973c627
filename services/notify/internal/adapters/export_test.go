package adapters

import "time"

// SetClock replaces the store's clock, for tests of receipt expiry.
func (s *RedisStore) SetClock(now func() time.Time) { s.now = now }
