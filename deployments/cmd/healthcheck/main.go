// Command healthcheck is the container health probe of the edge image: it
// exits 0 when GET /health on the local edge answers 200 with the seed's
// {"status":"healthy",...} body, 1 otherwise. The images are distroless
// (no shell, curl or wget), so the probe ships as its own static binary.
//
//	healthcheck                       # http://127.0.0.1:$PORT/health, PORT defaulting to 4100
//	healthcheck -url http://host:4100/health -timeout 2s
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "4100"
	}
	url := flag.String("url", "http://127.0.0.1:"+port+"/health", "health endpoint")
	timeout := flag.Duration("timeout", 2*time.Second, "whole request deadline")
	flag.Parse()
	if err := probe(*url, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "unhealthy:", err)
		os.Exit(1)
	}
}

func probe(url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: HTTP %d", url, resp.StatusCode)
	}
	var body struct {
		Status string `json:"status"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&body); err != nil {
		return fmt.Errorf("%s: %w", url, err)
	}
	if body.Status != "healthy" {
		return fmt.Errorf("%s: status %q", url, body.Status)
	}
	return nil
}
