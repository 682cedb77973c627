package service

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/golang-jwt/jwt/v5"

	"realtime/pkg/bus"
	"realtime/services/edge/internal/config"
	"realtime/services/edge/internal/ports"
)

const testSecret = "component-test-secret-0123456789abcdef"

// newTestConfig is the production config parsed from env, with overrides.
func newTestConfig(t *testing.T, env map[string]string) config.Config {
	t.Helper()
	merged := map[string]string{"JWT_SECRET": testSecret, "INSTANCE_ID": "edge-test"}
	for k, v := range env {
		merged[k] = v
	}
	cfg, err := config.Load(merged)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewJSONHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// startHTTP builds the service and serves its Handler over httptest.
func startHTTP(t *testing.T, env map[string]string) (*Service, string) {
	t.Helper()
	svc, err := New(t.Context(), newTestConfig(t, env), bus.NewMemory(testLogger(t)), testLogger(t))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	srv := httptest.NewServer(svc.Handler())
	t.Cleanup(func() {
		_ = svc.Sockets().Shutdown(context.Background()) // release pending polls
		srv.Close()
	})
	return svc, srv.URL
}

func hs256(t *testing.T, secret string, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func validClaims(sub string) jwt.MapClaims {
	return jwt.MapClaims{"sub": sub, "exp": time.Now().Add(time.Hour).Unix()}
}

func authPayload(token string) string {
	b, _ := json.Marshal(map[string]string{"token": token})
	return string(b)
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var healthRE = regexp.MustCompile(`^\{"status":"healthy","service":"realtime","timestamp":"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)","connections":(\d+)\}$`)

func healthConnections(t *testing.T, base string) int {
	t.Helper()
	code, body := get(t, base+"/health")
	if code != http.StatusOK {
		t.Fatalf("/health: %d %q", code, body)
	}
	m := healthRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("/health body %q does not match the seed's shape", body)
	}
	ts, err := time.Parse(time.RFC3339Nano, m[1])
	if err != nil || time.Since(ts).Abs() > time.Minute {
		t.Fatalf("timestamp %q: %v", m[1], err)
	}
	n, _ := strconv.Atoi(m[2])
	return n
}

func TestHealthCountsEngineSessions(t *testing.T) {
	_, base := startHTTP(t, nil)
	if n := healthConnections(t, base); n != 0 {
		t.Fatalf("connections before handshake = %d, want 0", n)
	}
	handshake(t, base) // an Engine.IO session, not yet a Socket.IO connection
	if n := healthConnections(t, base); n != 1 {
		t.Fatalf("connections after handshake = %d, want 1", n)
	}
	handshake(t, base)
	if n := healthConnections(t, base); n != 2 {
		t.Fatalf("connections after second handshake = %d, want 2", n)
	}
}

func TestMetrics(t *testing.T) {
	_, base := startHTTP(t, map[string]string{"AUTH_REQUIRED": "true"})
	handshake(t, base).connect(authPayload("garbage"))
	handshake(t, base).connect("")
	handshake(t, base).connect(authPayload(hs256(t, testSecret, validClaims("u1"))))

	code, body := get(t, base+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	for _, want := range []string{
		"realtime_edge_connections 3",
		"realtime_edge_outbox_published_total ",
		"realtime_edge_outbox_queued ",
		"realtime_edge_volatile_dropped_total ",
		"realtime_edge_slow_consumers_total ",
		"realtime_edge_handshakes_total 3",
		"realtime_edge_packets_in_total ",
		"realtime_edge_packets_out_total ",
		"realtime_edge_errors_total ",
		`realtime_edge_auth_failures_total{reason="invalid"} 1`,
		`realtime_edge_auth_failures_total{reason="missing"} 1`,
		"go_goroutines ",
		"process_resident_memory_bytes ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	for _, m := range []string{"realtime_edge_packets_in_total", "realtime_edge_packets_out_total"} {
		if v := metricValue(body, m); v < 3 {
			t.Errorf("%s = %v, want at least 3 (one CONNECT each)", m, v)
		}
	}
}

func metricValue(body, name string) float64 {
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return -1
}

func TestMetricsAreIsolatedPerService(t *testing.T) {
	_, a := startHTTP(t, nil)
	_, b := startHTTP(t, nil)
	handshake(t, a)
	_, body := get(t, b+"/metrics")
	if !strings.Contains(body, "realtime_edge_handshakes_total 0") {
		t.Errorf("second service saw the first one's handshake")
	}
}

func TestConnectAuthentication(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	pubPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	rs256, err := jwt.NewWithClaims(jwt.SigningMethodRS256, validClaims("rsa-user")).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	valid := hs256(t, testSecret, validClaims("user-42"))
	expired := hs256(t, testSecret, jwt.MapClaims{"sub": "user-42", "exp": time.Now().Add(-time.Hour).Unix()})

	anon := regexp.MustCompile(`^anon-[0-9a-f]{16}$`)
	tests := []struct {
		name      string
		env       map[string]string
		auth      string         // CONNECT payload; "" sends none
		wantReply string         // exact reply, or "" for a successful connect
		wantUser  *regexp.Regexp // identity checks on success
		wantAnon  bool
	}{
		{name: "valid HS256 token", auth: authPayload(valid), wantUser: regexp.MustCompile(`^user-42$`)},
		{name: "valid RS256 token", env: map[string]string{"JWT_SECRET": "", "JWT_PUBLIC_KEY": pubPEM}, auth: authPayload(rs256), wantUser: regexp.MustCompile(`^rsa-user$`)},
		{name: "bad signature", auth: authPayload(hs256(t, "some-other-secret-0123456789abcdef", validClaims("user-42"))), wantReply: `44{"message":"invalid token: bad signature"}`},
		{name: "expired", auth: authPayload(expired), wantReply: `44{"message":"invalid token: expired"}`},
		{name: "garbage token", auth: authPayload("garbage"), wantReply: `44{"message":"invalid token: malformed"}`},
		{name: "key confusion refused", env: map[string]string{"JWT_SECRET": "", "JWT_PUBLIC_KEY": pubPEM}, auth: authPayload(hs256(t, pubPEM, validClaims("admin"))), wantReply: `44{"message":"invalid token: algorithm not allowed"}`},
		{name: "anonymous without payload", auth: "", wantUser: anon, wantAnon: true},
		{name: "anonymous with empty object", auth: "{}", wantUser: anon, wantAnon: true},
		{name: "anonymous with null token", auth: `{"token":null}`, wantUser: anon, wantAnon: true},
		{name: "auth required refuses no token", env: map[string]string{"AUTH_REQUIRED": "true"}, auth: "{}", wantReply: `44{"message":"authentication required"}`},
		{name: "auth required refuses no payload", env: map[string]string{"AUTH_REQUIRED": "true"}, auth: "", wantReply: `44{"message":"authentication required"}`},
		{name: "auth required accepts valid token", env: map[string]string{"AUTH_REQUIRED": "true"}, auth: authPayload(valid), wantUser: regexp.MustCompile(`^user-42$`)},
		{name: "no key configured: token ignored", env: map[string]string{"JWT_SECRET": ""}, auth: authPayload(valid), wantUser: anon, wantAnon: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc, base := startHTTP(t, tt.env)
			c := handshake(t, base)
			reply := c.connect(tt.auth)
			if tt.wantReply != "" {
				if reply != tt.wantReply {
					t.Fatalf("reply = %q, want %q", reply, tt.wantReply)
				}
				if n := svc.Sockets().Of("/").Len(); n != 0 {
					t.Errorf("%d sockets joined after a refusal", n)
				}
				return
			}
			sid, ok := strings.CutPrefix(reply, `40{"sid":"`)
			if !ok || !strings.HasSuffix(sid, `"}`) {
				t.Fatalf("reply = %q, want a CONNECT", reply)
			}
			sock := svc.Sockets().Of("/").Socket(strings.TrimSuffix(sid, `"}`))
			if sock == nil {
				t.Fatal("socket not registered in namespace /")
			}
			id, ok := ports.IdentityOf(sock)
			if !ok {
				t.Fatalf("socket data = %#v, want an identity", sock.Data())
			}
			if !tt.wantUser.MatchString(id.UserID) || id.Anonymous != tt.wantAnon {
				t.Errorf("identity = %+v, want user %v anonymous %v", id, tt.wantUser, tt.wantAnon)
			}
		})
	}
}

func TestAnonymousIDsDiffer(t *testing.T) {
	svc, base := startHTTP(t, nil)
	seen := map[string]bool{}
	for range 3 {
		reply := handshake(t, base).connect("")
		sid := strings.TrimSuffix(strings.TrimPrefix(reply, `40{"sid":"`), `"}`)
		id, _ := ports.IdentityOf(svc.Sockets().Of("/").Socket(sid))
		if seen[id.UserID] {
			t.Fatalf("anonymous id %q reused", id.UserID)
		}
		seen[id.UserID] = true
	}
}

func TestUnknownEvent(t *testing.T) {
	_, base := startHTTP(t, nil)
	c := handshake(t, base)
	if reply := c.connect(""); !strings.HasPrefix(reply, "40{") {
		t.Fatalf("connect: %q", reply)
	}
	c.send(`42["video:rewind",{"videoId":"1"}]`, `427["what?"]`)
	got := c.receive(3)
	want := []string{
		`42["error",{"message":"unknown event: video:rewind","event":"video:rewind"}]`,
		`437[{"error":"unknown event"}]`,
		`42["error",{"message":"unknown event: what?","event":"what?"}]`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestNewRejectsBadKey(t *testing.T) {
	cfg := newTestConfig(t, map[string]string{"JWT_PUBLIC_KEY": "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----"})
	_, err := New(t.Context(), cfg, bus.NewMemory(testLogger(t)), testLogger(t))
	if err == nil || !strings.Contains(err.Error(), "JWT configuration") {
		t.Fatalf("New error = %v, want a JWT configuration error", err)
	}
}

func TestRunFailsWhenAddressTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	svc, err := New(t.Context(), newTestConfig(t, map[string]string{"HOST": "127.0.0.1", "PORT": strconv.Itoa(port)}), bus.NewMemory(testLogger(t)), testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	err = svc.Run(t.Context())
	if err == nil || !strings.Contains(err.Error(), "listen on 127.0.0.1:"+strconv.Itoa(port)) {
		t.Fatalf("Run error = %v, want a listen error", err)
	}
}

// failingListener accepts until told to fail, then fails every Accept.
type failingListener struct {
	net.Listener
	fail chan struct{}
}

var errListenerBroke = errors.New("listener broke")

func (l *failingListener) Accept() (net.Conn, error) {
	select {
	case <-l.fail:
		return nil, errListenerBroke
	default:
	}
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		c, err := l.Listener.Accept()
		ch <- result{c, err}
	}()
	select {
	case r := <-ch:
		return r.c, r.err
	case <-l.fail:
		return nil, errListenerBroke
	}
}

// A listener that fails on its own ends Serve with its error while the
// caller's context is still live: the sessions are closed and nothing (the
// lease heartbeat) keeps Serve waiting for a context nobody cancels.
func TestServeReturnsWhenListenerFails(t *testing.T) {
	svc, err := New(t.Context(), newTestConfig(t, nil), bus.NewMemory(testLogger(t)), testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer inner.Close()
	ln := &failingListener{Listener: inner, fail: make(chan struct{})}
	served := make(chan error, 1)
	go func() { served <- svc.Serve(t.Context(), ln) }()
	client := handshake(t, "http://"+inner.Addr().String())
	if reply := client.connect(""); !strings.HasPrefix(reply, "40{") {
		t.Fatalf("connect: %q", reply)
	}
	close(ln.fail)
	select {
	case err := <-served:
		if !errors.Is(err, errListenerBroke) {
			t.Fatalf("Serve: %v, want the listener's error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after its listener failed")
	}
}

func TestGracefulShutdown(t *testing.T) {
	const timeout = 2 * time.Second
	svc, err := New(t.Context(), newTestConfig(t, map[string]string{"SHUTDOWN_TIMEOUT": timeout.String()}), bus.NewMemory(testLogger(t)), testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- svc.Serve(ctx, ln) }()

	// A polling client, connected, with a GET waiting for data.
	poller := handshake(t, base)
	if reply := poller.connect(""); !strings.HasPrefix(reply, "40{") {
		t.Fatalf("connect: %q", reply)
	}
	// The long-poll waits up to PING_INTERVAL for data; only shutdown ends it.
	poller.http.Timeout = 0
	pending := make(chan string, 1)
	go func() {
		resp, err := poller.http.Get(poller.url())
		if err != nil {
			pending <- "error: " + err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		pending <- string(b)
	}()

	// A WebSocket client, connected.
	rawConn, br, _, err := ws.Dial(t.Context(), "ws://"+ln.Addr().String()+"/socket.io/?EIO=4&transport=websocket")
	if err != nil {
		t.Fatalf("websocket dial: %v", err)
	}
	defer rawConn.Close()
	// The open packet may have arrived together with the 101 response.
	conn := bufferedConn{Conn: rawConn, r: rawConn}
	if br != nil {
		conn.r = br
	}
	if open, err := wsutil.ReadServerText(conn); err != nil || !strings.HasPrefix(string(open), "0{") {
		t.Fatalf("websocket open: %q %v", open, err)
	}
	if err := wsutil.WriteClientText(conn, []byte("40")); err != nil {
		t.Fatal(err)
	}
	if reply, err := wsutil.ReadServerText(conn); err != nil || !strings.HasPrefix(string(reply), "40{") {
		t.Fatalf("websocket connect: %q %v", reply, err)
	}
	if n := healthConnections(t, base); n != 2 {
		t.Fatalf("connections = %d, want 2", n)
	}
	time.Sleep(50 * time.Millisecond) // let the pending GET reach the server

	start := time.Now()
	cancel()

	select {
	case err := <-runErr:
		if err != nil {
			t.Fatalf("Serve returned %v, want nil", err)
		}
	case <-time.After(timeout + time.Second):
		t.Fatal("Serve did not return within SHUTDOWN_TIMEOUT")
	}
	if took := time.Since(start); took > timeout {
		t.Errorf("shutdown took %s, longer than SHUTDOWN_TIMEOUT %s", took, timeout)
	}

	// The pending poll was answered with an Engine.IO close, so the client
	// knows to reconnect (elsewhere) at once.
	select {
	case body := <-pending:
		if packets := strings.Split(body, "\x1e"); packets[len(packets)-1] != "1" {
			t.Errorf("pending poll got %q, want it to end with the close packet \"1\"", body)
		}
	case <-time.After(time.Second):
		t.Fatal("pending poll not answered")
	}

	// The WebSocket was closed by the server.
	_ = conn.SetReadDeadline(time.Now().Add(time.Second))
	for {
		_, err := wsutil.ReadServerText(conn)
		if err == nil {
			continue // a final packet (e.g. close) may precede the close frame
		}
		var netErr net.Error
		if errors.As(err, &netErr) && netErr.Timeout() {
			t.Fatal("websocket still open after shutdown")
		}
		break
	}

	if n := svc.Sockets().Stats().Sessions.Load(); n != 0 {
		t.Errorf("%d sessions still open after shutdown", n)
	}
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		t.Error("listener still accepting after shutdown")
	}
}

// bufferedConn reads first what ws.Dial already buffered past the handshake.
type bufferedConn struct {
	net.Conn
	r io.Reader
}

func (c bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func TestCORSOrigins(t *testing.T) {
	_, base := startHTTP(t, map[string]string{"CORS_ORIGINS": "https://app.example"})
	tests := []struct {
		origin   string
		wantCode int
	}{
		{"https://app.example", http.StatusOK},
		{"https://evil.example", http.StatusForbidden},
		{"", http.StatusOK}, // non-browser clients send no Origin
	}
	for _, tt := range tests {
		t.Run("origin "+tt.origin, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, base+"/socket.io/?EIO=4&transport=polling", nil)
			if tt.origin != "" {
				req.Header.Set("Origin", tt.origin)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.wantCode {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tt.wantCode)
			}
		})
	}
}
