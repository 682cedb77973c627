package profiling

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
)

func TestServeAndStop(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	stop, err := Serve(t.Context(), "127.0.0.1:0", log)
	if err != nil {
		t.Fatal(err)
	}
	stop()
	if _, err := Serve(t.Context(), "not an address", log); err == nil || !strings.Contains(err.Error(), "PPROF_ADDR") {
		t.Fatalf("bad address: %v", err)
	}
}

func TestServesTheProfiler(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := free.Addr().String()
	free.Close()
	stop, err := Serve(t.Context(), addr, log)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	res, err := http.Get("http://" + addr + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || !strings.Contains(string(body), "goroutine profile") {
		t.Fatalf("%d %.80q", res.StatusCode, body)
	}
}
