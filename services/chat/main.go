// Command chat runs the chat worker on its own. For now it uses the
// in-memory bus (nothing else can reach it); with the distributed
// transports it will consume realtime.chat from Kafka and publish to the
// Redis fan-out stream. In embedded mode the edge runs the same service
// in-process.
package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/caarlos0/env/v11"

	"realtime/pkg/bus"
	"realtime/services/chat/service"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil)).With("service", "chat")
	if err := run(ctx, log); err != nil {
		log.Error("chat failed", "error", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, log *slog.Logger) error {
	cfg, err := service.LoadConfig(env.ToMap(os.Environ()))
	if err != nil {
		return err
	}
	b := bus.NewMemory(log.With("component", "bus"))
	defer b.Close()
	svc, err := service.New(cfg, b, log)
	if err != nil {
		return err
	}
	return svc.Run(ctx)
}
