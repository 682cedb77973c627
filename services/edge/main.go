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
	"syscall"

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
