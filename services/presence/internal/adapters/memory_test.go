package adapters_test

import (
	"testing"

	"realtime/services/presence/internal/adapters"
	"realtime/services/presence/internal/adapters/storetest"
	"realtime/services/presence/internal/domain"
)

// TestMemoryStore runs the store suite on the memory store; every
// "instance" is the same store.
func TestMemoryStore(t *testing.T) {
	storetest.Run(t, func(_ *testing.T, s domain.Settings) func() storetest.Store {
		m := adapters.NewMemoryStore(s)
		return func() storetest.Store { return m }
	})
}
