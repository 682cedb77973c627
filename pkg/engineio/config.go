package engineio

import (
	"log/slog"
	"strings"
	"sync/atomic"
	"time"
)

// Config holds the protocol settings of a Server. Zero values take the
// defaults of the reference implementation.
type Config struct {
	// PingInterval is how long the server waits before sending a ping.
	PingInterval time.Duration
	// PingTimeout is how long the server waits for the pong.
	PingTimeout time.Duration
	// MaxPayload is the largest message (WebSocket) or POST body (polling)
	// accepted from a client, in bytes.
	MaxPayload int
	// UpgradeTimeout bounds the polling→WebSocket probe.
	UpgradeTimeout time.Duration
	// WriteTimeout bounds one write to a WebSocket peer.
	WriteTimeout time.Duration
	// MaxBufferedBytes bounds what may wait for a slow client; past it the
	// session is closed rather than letting memory grow without bound.
	MaxBufferedBytes int
	// VolatileBufferedBytes is the soft bound on what may wait for a slow
	// client: once this much is queued, batches holding a Volatile message
	// are dropped (and counted in Stats.VolatileDropped) instead of queued,
	// so the rest of MaxBufferedBytes is kept for messages that matter.
	// Bytes are queued only once the kernel's socket buffer is full, so a
	// client this far behind is past the point where a count or a typing
	// indicator is worth its bytes. Zero means min(64 KiB, MaxBufferedBytes/4).
	VolatileBufferedBytes int
	// AllowedOrigins lists the browser origins that may connect; empty
	// allows any. Requests without an Origin header (non-browser clients)
	// are always accepted.
	AllowedOrigins []string
	// NoWriteCoalescing writes each queued packet with its own system call
	// instead of one vectored write per batch. Only useful for peers that
	// count frames per read, such as the official protocol test suites.
	NoWriteCoalescing bool
	// Logger receives protocol-level diagnostics.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.PingInterval <= 0 {
		c.PingInterval = 25 * time.Second
	}
	if c.PingTimeout <= 0 {
		c.PingTimeout = 20 * time.Second
	}
	if c.MaxPayload <= 0 {
		c.MaxPayload = 1_000_000
	}
	if c.UpgradeTimeout <= 0 {
		c.UpgradeTimeout = 10 * time.Second
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.MaxBufferedBytes <= 0 {
		c.MaxBufferedBytes = 4 << 20
	}
	if c.VolatileBufferedBytes <= 0 {
		c.VolatileBufferedBytes = min(64<<10, c.MaxBufferedBytes/4)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

func (c Config) originAllowed(origin string) bool {
	if origin == "" || len(c.AllowedOrigins) == 0 {
		return true
	}
	for _, o := range c.AllowedOrigins {
		if o == "*" || strings.EqualFold(o, origin) {
			return true
		}
	}
	return false
}

// Stats are the server's counters, safe to read at any time.
type Stats struct {
	Sessions      atomic.Int64 // open sessions (gauge)
	Handshakes    atomic.Int64 // sessions opened
	Upgrades      atomic.Int64 // polling sessions upgraded to WebSocket
	PacketsIn     atomic.Int64
	PacketsOut    atomic.Int64
	BytesIn       atomic.Int64
	Errors        atomic.Int64 // protocol and transport errors
	BadRequests   atomic.Int64 // HTTP requests refused with 4xx
	SlowConsumers atomic.Int64 // sessions closed because their buffer overflowed
	// VolatileDropped counts Volatile messages not queued because their
	// session was over VolatileBufferedBytes.
	VolatileDropped atomic.Int64
	PingTimeouts    atomic.Int64
}
