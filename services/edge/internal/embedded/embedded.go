// Package embedded runs the whole service in one process: the presence,
// chat and notify workers and the edge, all on the in-memory bus. It is
// what `make run` starts on a fresh machine; the same service packages run
// as separate processes on Kafka and Redis in distributed mode.
package embedded

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"golang.org/x/sync/errgroup"

	"realtime/pkg/bus"
	chat "realtime/services/chat/service"
	"realtime/services/edge/internal/config"
	"realtime/services/edge/internal/service"
	notify "realtime/services/notify/service"
	presence "realtime/services/presence/service"
)

// worker is what the edge needs of each in-process worker service.
type worker interface {
	Run(ctx context.Context) error
	Running() <-chan struct{}
}

// Run starts the workers, waits until they are subscribed, then serves the
// edge until ctx ends. Workers stop after the edge, so the session.closed
// events of the edge's shutdown are still handled.
func Run(ctx context.Context, cfg config.Config, environ map[string]string, log *slog.Logger) error {
	b := bus.NewMemory(log.With("component", "bus"))
	defer b.Close()

	workers, err := newWorkers(environ, b, log)
	if err != nil {
		return err
	}
	wctx, stopWorkers := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWorkers()
	g, gctx := errgroup.WithContext(wctx)
	for name, w := range workers {
		g.Go(func() error {
			if err := w.Run(gctx); err != nil && !errors.Is(err, context.Canceled) {
				return fmt.Errorf("%s: %w", name, err)
			}
			return nil
		})
	}
	for _, w := range workers {
		select {
		case <-w.Running():
		case <-gctx.Done():
			stopWorkers()
			return g.Wait()
		case <-ctx.Done():
			stopWorkers()
			return g.Wait()
		}
	}

	edge, err := service.New(ctx, cfg, b, log.With("service", "edge"))
	if err != nil {
		stopWorkers()
		return errors.Join(err, g.Wait())
	}
	// A failing worker stops the edge too: half a service must not serve.
	ectx, cancelEdge := context.WithCancel(ctx)
	defer cancelEdge()
	stop := context.AfterFunc(gctx, cancelEdge)
	defer stop()
	edgeErr := edge.Run(ectx)
	stopWorkers()
	return errors.Join(edgeErr, g.Wait())
}

func newWorkers(environ map[string]string, b *bus.Bus, log *slog.Logger) (map[string]worker, error) {
	pcfg, err := presence.LoadConfig(environ)
	if err != nil {
		return nil, err
	}
	p, err := presence.New(pcfg, b, log.With("service", "presence"))
	if err != nil {
		return nil, err
	}
	ccfg, err := chat.LoadConfig(environ)
	if err != nil {
		return nil, err
	}
	c, err := chat.New(ccfg, b, log.With("service", "chat"))
	if err != nil {
		return nil, err
	}
	ncfg, err := notify.LoadConfig(environ)
	if err != nil {
		return nil, err
	}
	n, err := notify.New(ncfg, b, log.With("service", "notify"))
	if err != nil {
		return nil, err
	}
	return map[string]worker{"presence": p, "chat": c, "notify": n}, nil
}
