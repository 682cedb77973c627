// Command edge holds the clients' Socket.IO connections: it authenticates
// them, keeps their rooms, turns client events into domain events and
// delivers fan-out messages. In embedded mode (the default) it also runs
// the presence, chat and notify workers in the same process.
package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/caarlos0/env/v11"

	"realtime/services/edge/internal/config"
	"realtime/services/edge/internal/embedded"
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
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel})).
		With("instance", cfg.InstanceID)
	return embedded.Run(ctx, cfg, environ, log)
}
