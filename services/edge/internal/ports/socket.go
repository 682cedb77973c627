package ports

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"

	"realtime/pkg/auth"
	"realtime/pkg/socketio"
	"realtime/services/edge/internal/identity"
	"realtime/services/edge/internal/telemetry"
)

// errAuthPayload refuses a CONNECT whose auth payload is not an object; the
// official client always sends an object, so this is a broken or hostile one.
var errAuthPayload = errors.New("invalid auth payload")

// AuthMetrics counts refused connections.
type AuthMetrics interface {
	AuthFailed(reason string)
}

// SocketHandlers are the edge's Socket.IO entry points on namespace "/".
type SocketHandlers struct {
	authn   *identity.Authenticator
	metrics AuthMetrics
	log     *slog.Logger
}

// NewSocketHandlers builds the handlers; Register attaches them.
func NewSocketHandlers(authn *identity.Authenticator, metrics AuthMetrics, log *slog.Logger) *SocketHandlers {
	return &SocketHandlers{authn: authn, metrics: metrics, log: log}
}

// Register attaches the handlers to a namespace.
func (h *SocketHandlers) Register(nsp *socketio.Namespace) {
	nsp.Use(h.authenticate)
	nsp.OnUnknown(h.unknownEvent)
}

// IdentityOf returns who is behind a socket that passed authentication.
func IdentityOf(s *socketio.Socket) (identity.Identity, bool) {
	id, ok := s.Data().(identity.Identity)
	return id, ok
}

// authenticate runs on every CONNECT to the namespace, before the client is
// told it is connected, so no event is ever handled for an unproven user.
func (h *SocketHandlers) authenticate(s *socketio.Socket, payload json.RawMessage) error {
	token, err := tokenFrom(payload)
	if err != nil {
		h.refused(s, telemetry.ReasonInvalid, err)
		return err
	}
	id, err := h.authn.Authenticate(token)
	if err != nil {
		reason := telemetry.ReasonInvalid
		if errors.Is(err, identity.ErrAuthRequired) {
			reason = telemetry.ReasonMissing
		}
		h.refused(s, reason, err)
		return err
	}
	s.SetData(id)
	h.log.Debug("socket authenticated", "socket", s.ID(), "user", id.UserID, "anonymous", id.Anonymous)
	return nil
}

func (h *SocketHandlers) refused(s *socketio.Socket, reason string, err error) {
	h.metrics.AuthFailed(reason)
	h.log.Info("socket refused", "socket", s.ID(), "reason", reason, "error", err.Error())
}

// tokenFrom reads { token } from the CONNECT auth payload. An absent payload,
// null, {}, and a null or empty token all mean "no token".
func tokenFrom(payload json.RawMessage) (string, error) {
	payload = bytes.TrimSpace(payload)
	if len(payload) == 0 || bytes.Equal(payload, []byte("null")) {
		return "", nil
	}
	var fields struct {
		Token json.RawMessage `json:"token"`
	}
	if payload[0] != '{' || json.Unmarshal(payload, &fields) != nil {
		return "", errAuthPayload
	}
	if len(fields.Token) == 0 || bytes.Equal(fields.Token, []byte("null")) {
		return "", nil
	}
	var token string
	if err := json.Unmarshal(fields.Token, &token); err != nil {
		return "", auth.ErrMalformed
	}
	return token, nil
}

// unknownEventReply is the ack for an event nobody handles.
type unknownEventReply struct {
	Error string `json:"error"`
}

// unknownEventError is the "error" event payload; a struct keeps key order.
type unknownEventError struct {
	Message string `json:"message"`
	Event   string `json:"event"`
}

// unknownEvent answers events the edge has no handler for, so a client with
// a typo or an outdated contract learns why nothing happens instead of
// waiting forever on an ack.
func (h *SocketHandlers) unknownEvent(s *socketio.Socket, ev *socketio.Event) {
	if ev.HasAck() {
		if err := ev.Ack(unknownEventReply{Error: "unknown event"}); err != nil {
			h.log.Debug("ack failed", "socket", s.ID(), "error", err)
		}
	}
	if err := s.Emit("error", unknownEventError{Message: "unknown event: " + ev.Name, Event: ev.Name}); err != nil {
		h.log.Debug("emit failed", "socket", s.ID(), "error", err)
	}
}
