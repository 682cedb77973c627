package ports

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestRouter(t *testing.T) {
	stamp := func(code int, body string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(code)
			_, _ = w.Write([]byte(body))
		})
	}
	r := NewRouter(RouterDeps{
		Socket:      stamp(http.StatusOK, "socket"),
		Metrics:     stamp(http.StatusOK, "metrics"),
		Connections: func() int64 { return 1234 },
		// 5 ms past the second, in another zone: must print as UTC millis.
		Now: func() time.Time {
			return time.Date(2026, 2, 10, 13, 0, 0, 5_400_000, time.FixedZone("CET", 3600))
		},
	})

	tests := []struct {
		method, path string
		wantCode     int
		wantBody     string
		wantType     string
	}{
		{"GET", "/health", 200, `{"status":"healthy","service":"realtime","timestamp":"2026-02-10T12:00:00.005Z","connections":1234}`, "application/json; charset=utf-8"},
		{"GET", "/metrics", 200, "metrics", ""},
		{"GET", "/socket.io/", 200, "socket", ""},
		{"POST", "/socket.io/", 200, "socket", ""},
		{"GET", "/socket.io/anything", 200, "socket", ""},
		{"POST", "/health", 405, "", ""},
		{"GET", "/nope", 404, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
			if rec.Code != tt.wantCode {
				t.Fatalf("status = %d, want %d", rec.Code, tt.wantCode)
			}
			if tt.wantBody != "" && rec.Body.String() != tt.wantBody {
				t.Errorf("body = %q\nwant   %q", rec.Body.String(), tt.wantBody)
			}
			if tt.wantType != "" && rec.Header().Get("Content-Type") != tt.wantType {
				t.Errorf("Content-Type = %q, want %q", rec.Header().Get("Content-Type"), tt.wantType)
			}
		})
	}
}
