// Package conformance is a server built only on packages engineio and
// socketio that behaves as the official Engine.IO and Socket.IO protocol
// test suites expect. It is a test fixture, not part of the product.
package conformance

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"realtime/pkg/engineio"
	"realtime/pkg/socketio"
)

// Config returns the settings the protocol suites hard-code.
func Config(logger *slog.Logger) engineio.Config {
	return engineio.Config{
		PingInterval: 300 * time.Millisecond,
		PingTimeout:  200 * time.Millisecond,
		MaxPayload:   1_000_000,
		// The suites count frames per read; keep one frame per write.
		NoWriteCoalescing: true,
		Logger:            logger,
	}
}

// NewHandler serves a bare Engine.IO echo endpoint at /engine.io/ and the
// Socket.IO test server at /socket.io/.
func NewHandler(logger *slog.Logger) http.Handler {
	cfg := Config(logger)
	mux := http.NewServeMux()
	mux.Handle("/engine.io/", engineio.NewServer(cfg, echo{}))
	mux.Handle("/socket.io/", NewSocketServer(cfg))
	return mux
}

// echo sends every message back on the same session, unchanged.
type echo struct{}

func (echo) OnOpen(*engineio.Session)          {}
func (echo) OnClose(*engineio.Session, string) {}
func (echo) OnMessage(s *engineio.Session, data []byte, binary bool) {
	m := engineio.NewTextMessage(data)
	if binary {
		m = engineio.NewBinaryMessage(data)
	}
	_ = s.Send(m)
}

// NewSocketServer returns the Socket.IO server of the suites, with
// namespaces "/" and "/custom".
func NewSocketServer(cfg engineio.Config) *socketio.Server {
	srv := socketio.NewServer(socketio.Config{Config: cfg, ConnectTimeout: time.Second})
	for _, name := range []string{"/", "/custom"} {
		nsp := srv.Of(name)
		nsp.Use(func(s *socketio.Socket, auth json.RawMessage) error {
			if auth == nil {
				auth = json.RawMessage("{}")
			}
			s.SetData(auth)
			return nil
		})
		nsp.OnConnect(func(s *socketio.Socket) {
			// The suites' WebSocket client (ws 8.5) drops the second of two
			// frames that arrive in one TCP read, and they count frames: a
			// millisecond between the CONNECT reply and this event keeps
			// them in separate reads. Product code never needs this.
			auth := s.Data().(json.RawMessage)
			time.AfterFunc(time.Millisecond, func() { _ = s.Emit("auth", auth) })
		})
		nsp.On("message", func(s *socketio.Socket, ev *socketio.Event) {
			_ = s.EmitRaw("message-back", ev.Args, ev.Attachments)
		})
		nsp.On("message-with-ack", func(s *socketio.Socket, ev *socketio.Event) {
			_ = ev.AckRaw(ev.Args, ev.Attachments)
		})
		// Not in the suites: exercises server→client acknowledgements for
		// the end-to-end tests with the official client.
		nsp.On("request-ack", func(s *socketio.Socket, ev *socketio.Event) {
			_ = s.EmitWithAck("ack-request", func(resp *socketio.Event, err error) {
				if err == nil {
					_ = s.Emit("ack-response", resp.Values()...)
				}
			}, ev.Values()...)
		})
	}
	return srv
}
