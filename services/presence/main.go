// Command presence runs the presence worker alone: viewer and chatter
// counts, edge leases, multi-device playback sync. BUS=distributed puts it
// on Kafka and Redis Streams, with its state in Redis; BUS=memory (the
// default) keeps everything in this process. (The edge also runs it
// in-process in embedded mode.)
//
// PPROF_ADDR (such as 127.0.0.1:6061, unset by default) serves the Go
// profiler there, for diagnosis only: never expose it publicly.
package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"time"

	"realtime/pkg/worker"
	"realtime/services/presence/service"
)

func main() {
	if addr := os.Getenv("PPROF_ADDR"); addr != "" {
		if err := servePprof(addr); err != nil {
			slog.Error("presence stopped", "error", err)
			os.Exit(1)
		}
	}
	worker.Service("presence", service.LoadConfig, service.WithRedis, service.New)
}

// servePprof serves the profiler on addr for the life of the process.
func servePprof(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("PPROF_ADDR %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return nil
}
