// Command edge holds the clients' Socket.IO connections: it authenticates
// them, keeps their rooms, turns client events into domain events and
// delivers fan-out messages. With BUS=memory (the default) it also runs the
// presence, chat and notify workers in the same process; with
// BUS=distributed it runs alone on Kafka and Redis.
package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/metrics"
	"syscall"
	"time"

	"github.com/caarlos0/env/v11"

	"realtime/pkg/bus"
	"realtime/services/edge/internal/config"
	"realtime/services/edge/internal/embedded"
	"realtime/services/edge/internal/service"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		slog.New(slog.NewJSONHandler(os.Stderr, nil)).Error("edge failed", "error", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	environ := env.ToMap(os.Environ())
	cfg, err := config.Load(environ)
	if err != nil {
		return err
	}
	busCfg, err := bus.LoadConfig(environ)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel})).
		With("instance", cfg.InstanceID)
	setMemoryDefaults(environ)
	go trimWhenQuiet(ctx, trimInterval, trimAfterBytes)
	if busCfg.Transport == bus.TransportMemory {
		return embedded.Run(ctx, cfg, environ, log)
	}
	b, err := bus.Open(ctx, busCfg, log.With("component", "bus"))
	if err != nil {
		return err
	}
	defer b.Close()
	svc, err := service.New(ctx, cfg, b, log.With("service", "edge"))
	if err != nil {
		return err
	}
	return svc.Run(ctx)
}

// defaultGCPercent is the edge's GOGC unless the operator sets one. An edge
// is mostly idle connections: its live heap is large and changes slowly,
// and with Go's default of 100 the heap (and so the RSS) may grow to twice
// that before a collection.
const defaultGCPercent = 50

// setMemoryDefaults applies the edge's GC setting unless GOGC is set in
// the environment, which wins (as does GOMEMLIMIT, left to the runtime).
func setMemoryDefaults(environ map[string]string) {
	if _, set := environ["GOGC"]; !set {
		debug.SetGCPercent(defaultGCPercent)
	}
}

const (
	trimInterval   = 10 * time.Second
	trimAfterBytes = 64 << 20
)

// trimWhenQuiet returns memory to the system once the process goes quiet
// after a burst of work (a wave of connections): when at least afterBytes
// were allocated since the last trim, but under 1/8 of that in the last
// interval. A burst leaves behind garbage, heap the runtime keeps for a
// growth that is not coming, and the stacks of its exited goroutines
// (kept for reuse until the next collection): at 10,000 connections about
// 20 MB of stacks and 20 MB of heap, which the runtime otherwise gives back
// only after a collection, minutes away in a process that allocates
// little. A process allocating more than afterBytes/8 per interval never
// trims; a slower one at most once per afterBytes allocated, which costs
// about what the runtime's own two-minute collection does.
func trimWhenQuiet(ctx context.Context, interval time.Duration, afterBytes uint64) {
	sample := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	allocated := func() uint64 {
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return sample[0].Value.Uint64()
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	trimmed := allocated()
	last := trimmed
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := allocated()
		if quietAfterBurst(now-trimmed, now-last, afterBytes) {
			debug.FreeOSMemory()
			trimmed = allocated()
			now = trimmed
		}
		last = now
	}
}

// quietAfterBurst reports whether a process that allocated sinceTrim bytes
// since its last trim, inInterval of them in the last interval, has gone
// quiet after a burst.
func quietAfterBurst(sinceTrim, inInterval, afterBytes uint64) bool {
	return sinceTrim >= afterBytes && inInterval < afterBytes/8
}
