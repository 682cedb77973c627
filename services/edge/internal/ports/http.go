// Package ports holds the edge's inbound adapters: the HTTP routes and the
// Socket.IO handlers that sit between clients and the rest of the service.
package ports

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
)

// healthTimeFormat is JavaScript's Date.toISOString(): millisecond precision,
// always UTC, which is what the seed's /health shows.
const healthTimeFormat = "2006-01-02T15:04:05.000Z"

// RouterDeps is what the HTTP surface needs from the rest of the service.
type RouterDeps struct {
	Socket      http.Handler     // the Socket.IO server
	Metrics     http.Handler     // Prometheus exposition
	Connections func() int64     // open Engine.IO sessions
	Now         func() time.Time // nil: time.Now
	// PlatformEvents serves POST /internal/events; nil disables the route.
	PlatformEvents http.Handler
}

// NewRouter builds the edge's HTTP routes.
func NewRouter(d RouterDeps) http.Handler {
	if d.Now == nil {
		d.Now = time.Now
	}
	r := chi.NewRouter()
	// "/*" also matches "/socket.io/" itself; the socket server checks the rest.
	r.Handle("/socket.io/*", d.Socket)
	r.Get("/health", health(d.Connections, d.Now))
	r.Method(http.MethodGet, "/metrics", d.Metrics)
	if d.PlatformEvents != nil {
		r.Method(http.MethodPost, "/internal/events", d.PlatformEvents)
	}
	return r
}

// healthBody is a struct, not a map, so the keys keep the seed's order.
type healthBody struct {
	Status      string `json:"status"`
	Service     string `json:"service"`
	Timestamp   string `json:"timestamp"`
	Connections int64  `json:"connections"`
}

func health(connections func() int64, now func() time.Time) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		body, err := json.Marshal(healthBody{
			Status:      "healthy",
			Service:     "realtime",
			Timestamp:   now().UTC().Format(healthTimeFormat),
			Connections: connections(),
		})
		if err != nil { // cannot happen for this struct; answer honestly if it does
			http.Error(w, "health encoding failed", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(body)
	}
}
