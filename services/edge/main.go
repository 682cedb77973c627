// Command edge holds the clients' Socket.IO connections: it authenticates
// them, keeps their rooms, and serves /health and /metrics.
package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/caarlos0/env/v11"

	"realtime/services/edge/internal/config"
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
	cfg, err := config.Load(env.ToMap(os.Environ()))
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel})).
		With("service", "edge", "instance", cfg.InstanceID)
	svc, err := service.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	return svc.Run(ctx)
}
