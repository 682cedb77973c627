// Command notify runs the notify worker alone. For now it runs on the
// embedded in-memory bus; the edge runs the same worker in-process in
// embedded mode (see service.New).
package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/caarlos0/env/v11"

	"realtime/pkg/bus"
	"realtime/services/notify/service"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		slog.New(slog.NewJSONHandler(os.Stderr, nil)).Error("notify failed", "service", "notify", "error", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	cfg, err := service.LoadConfig(env.ToMap(os.Environ()))
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel})).With("service", "notify")
	b := bus.NewMemory(log)
	defer b.Close()
	svc, err := service.New(cfg, b, log)
	if err != nil {
		return err
	}
	return svc.Run(ctx)
}
