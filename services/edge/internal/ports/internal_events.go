package ports

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"

	"realtime/contracts"
	"realtime/services/edge/internal/app"
)

// maxPlatformEvent bounds the body of POST /internal/events.
const maxPlatformEvent = 64 << 10

// PlatformEvents serves POST /internal/events: one platform event as the
// JSON body, authorised by `Authorization: Bearer <ADMIN_TOKEN>`, validated
// against the contract and published unchanged to platform.events.
func PlatformEvents(adminToken string, reg *contracts.Registry, a *app.App, log *slog.Logger) http.HandlerFunc {
	want := []byte("Bearer " + adminToken)
	return func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "unauthorized"})
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxPlatformEvent))
		if err != nil {
			writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": "event too large"})
			return
		}
		if err := reg.Validate(contracts.PlatformEventMessageName, body); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid event: " + err.Error()})
			return
		}
		var ev contracts.PlatformEvent
		if err := json.Unmarshal(body, &ev); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid event: " + err.Error()})
			return
		}
		id, err := a.PublishPlatformEvent(r.Context(), &ev, body)
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				log.Error("publishing platform event failed", "type", ev.Type, "error", err)
			}
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": app.ErrUnavailable.Error()})
			return
		}
		log.Debug("platform event published", "type", ev.Type, "id", id)
		writeJSON(w, http.StatusAccepted, map[string]any{"ok": true, "id": id})
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
