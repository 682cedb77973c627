// Command presence runs the presence worker alone: viewer and chatter
// counts, edge leases, multi-device playback sync. (The edge also runs it
// in-process in embedded mode.)
package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/caarlos0/env/v11"

	"realtime/pkg/bus"
	"realtime/services/presence/service"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil)).With("service", "presence")
	if err := run(ctx, log); err != nil {
		log.Error("presence stopped", "error", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, log *slog.Logger) error {
	cfg, err := service.LoadConfig(env.ToMap(os.Environ()))
	if err != nil {
		return err
	}
	// Embedded transport for now; the distributed transports come with
	// the bus's Kafka and Redis wiring.
	b := bus.NewMemory(log.With("component", "bus"))
	defer b.Close()
	s, err := service.New(cfg, b, log)
	if err != nil {
		return err
	}
	return s.Run(ctx)
}
