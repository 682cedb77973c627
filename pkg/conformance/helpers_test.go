package conformance_test

// Shared machinery for the Go ports of the official protocol test suites
// (the test-suite/ folders of socketio/engine.io-protocol and
// socketio/socket.io-protocol). Each mocha `it(...)` is one Go subtest with the
// same name, nested under subtests named like the mocha `describe(...)` blocks.
//
// Target server: $CONFORMANCE_URL (e.g. http://127.0.0.1:3000) when set,
// otherwise an in-process httptest server around conformance.NewHandler.
//
// Timing: like mocha, every test has a timeout of 2 s (5 s inside the
// "heartbeat" blocks). All network I/O of a test is bounded by that deadline,
// so no test can hang, and a test that takes longer fails as it would in mocha.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"os"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"realtime/pkg/conformance"
)

// Values hard-coded by both suites.
const (
	pingInterval = 300 * time.Millisecond
	pingTimeout  = 200 * time.Millisecond

	// fetchSlack is how much later than the nominal sleep a request of the
	// suites reaches the server (setTimeout lateness plus node-fetch's own
	// work); used where a test races a server timer to the millisecond.
	fetchSlack = 3 * time.Millisecond

	// mocha's default timeout, and the one of the "heartbeat" describe blocks.
	defaultTimeout   = 2000 * time.Millisecond
	heartbeatTimeout = 5000 * time.Millisecond
)

// baseURL is the http:// base URL of the server under test (no trailing slash);
// wsBaseURL is the same with the ws:// scheme.
var baseURL, wsBaseURL string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if u := strings.TrimRight(os.Getenv("CONFORMANCE_URL"), "/"); u != "" {
		baseURL = u
	} else {
		srv := httptest.NewServer(conformance.NewHandler(slog.New(slog.DiscardHandler)))
		defer func() {
			srv.CloseClientConnections()
			srv.Close()
		}()
		baseURL = srv.URL
	}
	// Same as the suites: const WS_URL = URL.replace("http", "ws");
	wsBaseURL = strings.Replace(baseURL, "http", "ws", 1)
	return m.Run()
}

// describe groups subtests like a mocha describe block.
func describe(t *testing.T, name string, fn func(t *testing.T)) {
	t.Helper()
	t.Run(name, fn)
}

// env is the per-test context: the deadline every I/O is bounded by, and an
// HTTP client of its own (like fetch, with keep-alive connections).
type env struct {
	t        *testing.T
	ctx      context.Context
	deadline time.Time
	timeout  time.Duration
	client   *http.Client
}

// it runs one ported mocha test with the given mocha timeout.
func it(t *testing.T, name string, timeout time.Duration, fn func(e *env)) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		start := time.Now()
		deadline := start.Add(timeout)
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		tr := &http.Transport{
			Proxy:               nil,
			MaxIdleConnsPerHost: 16,
			IdleConnTimeout:     timeout,
		}
		t.Cleanup(func() {
			cancel()
			tr.CloseIdleConnections()
		})
		e := &env{
			t:        t,
			ctx:      ctx,
			deadline: deadline,
			timeout:  timeout,
			client:   &http.Client{Transport: tr},
		}
		fn(e)
		if elapsed := time.Since(start); elapsed > timeout && !t.Failed() {
			t.Errorf(
				"Timeout of %dms exceeded: the test took %v",
				timeout.Milliseconds(), elapsed.Round(time.Millisecond),
			)
		}
	})
}

// sleep is the suites' sleep(delay), bounded by the test deadline.
func (e *env) sleep(d time.Duration) {
	e.t.Helper()
	select {
	case <-time.After(d):
	case <-e.ctx.Done():
		e.t.Fatalf(
			"Timeout of %dms exceeded while sleeping %v",
			e.timeout.Milliseconds(), d,
		)
	}
}

// ---------------------------------------------------------------------------
// HTTP (the suites' fetch)

type response struct {
	status int
	body   string
}

// do performs one request like node-fetch does: a string body is sent as
// text/plain;charset=UTF-8, and the whole response body is read as text.
// wrote, when not nil, is closed once the request has been written out.
func (e *env) do(method, path string, body *string, wrote chan<- struct{}) (response, error) {
	var rd io.Reader
	if body != nil {
		rd = strings.NewReader(*body)
	}
	ctx := e.ctx
	if wrote != nil {
		var once sync.Once
		ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
			WroteRequest: func(httptrace.WroteRequestInfo) {
				once.Do(func() { close(wrote) })
			},
		})
	}
	req, err := http.NewRequestWithContext(ctx, method, baseURL+path, rd)
	if err != nil {
		return response{}, err
	}
	req.Header.Set("Accept", "*/*")
	if body != nil {
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	}
	res, err := e.client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return response{status: res.StatusCode}, fmt.Errorf("reading the response body: %w", err)
	}
	return response{status: res.StatusCode, body: string(b)}, nil
}

// get is `await fetch(url)`; a network error fails the test.
func (e *env) get(path string) response {
	e.t.Helper()
	r, err := e.do(http.MethodGet, path, nil, nil)
	if err != nil {
		e.t.Fatalf("GET %s: %v", path, err)
	}
	return r
}

// send is `await fetch(url, { method })` with an optional string body.
func (e *env) send(method, path string, body *string) response {
	e.t.Helper()
	r, err := e.do(method, path, body, nil)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

// post is `await fetch(url, { method: "post", body })`.
func (e *env) post(path, body string) response {
	e.t.Helper()
	return e.send(http.MethodPost, path, &body)
}

// pending is a request running in the background (one member of a
// Promise.all([...])).
type pending struct {
	method, path string
	wrote        chan struct{}
	done         chan struct{}
	res          response
	err          error
}

// start sends a request in the background and returns once it has been
// written out (so that a request started after it reaches the server after
// it, as with the suites' Promise.all ordering).
func (e *env) start(method, path string, body *string) *pending {
	e.t.Helper()
	p := &pending{method: method, path: path, wrote: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.res, p.err = e.do(method, path, body, p.wrote)
	}()
	select {
	case <-p.wrote:
	case <-p.done:
	}
	return p
}

// wait is `await` on a request started with start; a network error fails the
// test.
func (p *pending) wait(e *env) response {
	e.t.Helper()
	<-p.done // bounded: the request uses the test's context
	if p.err != nil {
		e.t.Fatalf("%s %s: %v", p.method, p.path, p.err)
	}
	return p.res
}

// initLongPollingSession is the suites' helper: GET the handshake and return
// JSON.parse(content.substring(1)).sid.
func (e *env) initLongPollingSession(prefix string) string {
	e.t.Helper()
	r := e.get(prefix + "?EIO=4&transport=polling")
	if len(r.body) < 1 {
		e.t.Fatalf("handshake: empty body (HTTP %d)", r.status)
	}
	var v struct {
		Sid any `json:"sid"`
	}
	if err := json.Unmarshal([]byte(r.body[1:]), &v); err != nil {
		e.t.Fatalf("handshake: JSON.parse(%q) fails: %v (HTTP %d)", r.body[1:], err, r.status)
	}
	sid, ok := v.Sid.(string)
	if !ok {
		e.t.Fatalf("handshake: sid is not a string in %q", r.body)
	}
	return sid
}

// ---------------------------------------------------------------------------
// WebSocket client (the suites' WebSocket, from the ws package)

type wsFrame struct {
	op   ws.OpCode
	data []byte
}

func (f wsFrame) String() string {
	if f.op == ws.OpBinary {
		return fmt.Sprintf("binary frame %v", f.data)
	}
	return fmt.Sprintf("text frame %q", f.data)
}

// wsConn is a client WebSocket. A goroutine reads frames one by one (several
// frames may arrive in one TCP read, or one frame in several) and queues the
// data frames; it answers pings and close frames itself. Unlike the suites'
// event listeners, queued frames are not lost when no one waits for them; drop
// discards them where the suites' code would have lost them.
type wsConn struct {
	e      *env
	path   string
	conn   net.Conn
	wmu    sync.Mutex
	frames chan wsFrame
	done   chan struct{} // closed when the TCP connection has ended
	endErr error         // why the read loop ended; read after done
	closed *wsutil.ClosedError
}

// dialWS opens a WebSocket like `new WebSocket(url)` and waits for the
// "open" event. It returns the error (a ws.StatusError for a refused upgrade)
// instead of failing.
func (e *env) dialWS(path string) (*wsConn, error) {
	d := ws.Dialer{}
	conn, br, _, err := d.Dial(e.ctx, wsBaseURL+path)
	if err != nil {
		return nil, err
	}
	_ = conn.SetDeadline(e.deadline)
	c := &wsConn{
		e:      e,
		path:   path,
		conn:   conn,
		frames: make(chan wsFrame, 4096),
		done:   make(chan struct{}),
	}
	e.t.Cleanup(func() { _ = conn.Close() })
	var src io.Reader = conn
	if br != nil {
		// Bytes the server sent right after the handshake response.
		src = br
	} else {
		src = bufio.NewReader(conn)
	}
	go c.readLoop(src)
	return c, nil
}

// openWS is dialWS where a refused upgrade fails the test.
func (e *env) openWS(path string) *wsConn {
	e.t.Helper()
	c, err := e.dialWS(path)
	if err != nil {
		e.t.Fatalf("WebSocket %s: %v", path, err)
	}
	return c
}

type lockedWriter struct{ c *wsConn }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.c.wmu.Lock()
	defer w.c.wmu.Unlock()
	return w.c.conn.Write(p)
}

func (c *wsConn) readLoop(src io.Reader) {
	defer close(c.done)
	ctrl := wsutil.ControlFrameHandler(lockedWriter{c}, ws.StateClientSide)
	rd := &wsutil.Reader{
		Source:         src,
		State:          ws.StateClientSide,
		CheckUTF8:      true,
		OnIntermediate: ctrl,
	}
	for {
		hdr, err := rd.NextFrame()
		if err != nil {
			c.endErr = err
			return
		}
		if hdr.OpCode.IsControl() {
			err := ctrl(hdr, rd)
			var ce wsutil.ClosedError
			if errors.As(err, &ce) {
				// Like ws: the close frame was answered; end our side of the
				// TCP connection and wait for the server to close its side.
				c.closed = &ce
				if cw, ok := c.conn.(interface{ CloseWrite() error }); ok {
					_ = cw.CloseWrite()
				}
				continue
			}
			if err != nil {
				c.endErr = err
				return
			}
			continue
		}
		payload, err := io.ReadAll(rd)
		if err != nil {
			c.endErr = err
			return
		}
		c.frames <- wsFrame{op: hdr.OpCode, data: payload}
	}
}

func (c *wsConn) write(op ws.OpCode, p []byte) {
	c.e.t.Helper()
	c.wmu.Lock()
	err := wsutil.WriteClientMessage(c.conn, op, p)
	c.wmu.Unlock()
	if err != nil {
		c.e.t.Fatalf("WebSocket %s: sending %q: %v", c.path, p, err)
	}
}

// send is socket.send(string): one text frame.
func (c *wsConn) send(s string) {
	c.e.t.Helper()
	c.write(ws.OpText, []byte(s))
}

// sendBinary is socket.send(Uint8Array): one binary frame.
func (c *wsConn) sendBinary(b []byte) {
	c.e.t.Helper()
	c.write(ws.OpBinary, b)
}

// endReason describes how the connection ended (after done is closed).
func (c *wsConn) endReason() string {
	if c.closed != nil {
		return fmt.Sprintf("close frame %d %q, then %v", c.closed.Code, c.closed.Reason, c.endErr)
	}
	return fmt.Sprint(c.endErr)
}

// next is `await waitFor(socket, "message")`: the next data frame.
func (c *wsConn) next(what string) wsFrame {
	c.e.t.Helper()
	select {
	case f := <-c.frames:
		return f
	default:
	}
	select {
	case f := <-c.frames:
		return f
	case <-c.done:
		select {
		case f := <-c.frames:
			return f
		default:
		}
		if isTimeout(c.endErr) {
			c.e.t.Fatalf(
				"Timeout of %dms exceeded waiting for a message (%s)",
				c.e.timeout.Milliseconds(), what,
			)
		}
		c.e.t.Fatalf("waiting for a message (%s): the WebSocket was closed (%s)", what, c.endReason())
	}
	panic("unreachable")
}

// nextText returns the next message, which must be a string (a text frame),
// as in `expect(data).to.eql("...")`.
func (c *wsConn) nextText(what string) string {
	c.e.t.Helper()
	f := c.next(what)
	if f.op != ws.OpText {
		c.e.t.Fatalf("%s: expected a string (text frame), got %v", what, f)
	}
	return string(f.data)
}

// packets is the socket.io suite's waitForPackets(socket, count): the next
// count messages, ignoring the "2" (PING) packets.
func (c *wsConn) packets(count int, what string) []wsFrame {
	c.e.t.Helper()
	var out []wsFrame
	for len(out) < count {
		f := c.next(what)
		if f.op == ws.OpText && string(f.data) == "2" {
			continue
		}
		out = append(out, f)
	}
	return out
}

// waitClose is `await waitFor(socket, "close")`: the TCP connection ends (ws
// emits "close" when its socket closes). Messages received meanwhile are
// ignored, as in the suites.
func (c *wsConn) waitClose(what string) {
	c.e.t.Helper()
	for {
		select {
		case <-c.frames:
			continue
		case <-c.done:
			if isTimeout(c.endErr) {
				c.e.t.Fatalf(
					"Timeout of %dms exceeded waiting for the WebSocket to close (%s)",
					c.e.timeout.Milliseconds(), what,
				)
			}
			return
		}
	}
}

// drop discards the messages received so far: the suites lose the messages
// that arrive while they await something else with no "message" listener.
func (c *wsConn) drop() []wsFrame {
	var out []wsFrame
	for {
		select {
		case f := <-c.frames:
			out = append(out, f)
		default:
			return out
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// ---------------------------------------------------------------------------
// chai-like assertions

func expectEql[T comparable](e *env, what string, got, want T) {
	e.t.Helper()
	if got != want {
		e.t.Fatalf("%s: expected %#v to deeply equal %#v", what, got, want)
	}
}

// expectStatus is `expect(response.status).to.eql(want)`; the body is shown
// on failure.
func expectStatus(e *env, what string, got response, want int) {
	e.t.Helper()
	if got.status != want {
		e.t.Fatalf("%s: expected %d to deeply equal %d (response body %q)", what, got.status, want, got.body)
	}
}

// expectStatusOneOf is `expect(response.status).to.be.oneOf(want)`.
func expectStatusOneOf(e *env, what string, got response, want ...int) {
	e.t.Helper()
	for _, w := range want {
		if got.status == w {
			return
		}
	}
	e.t.Fatalf("%s: expected %d to be one of %v (response body %q)", what, got.status, want, got.body)
}

func expectStartsWith(e *env, what, got, prefix string) {
	e.t.Helper()
	if !strings.HasPrefix(got, prefix) {
		e.t.Fatalf("%s: expected %q to start with %q", what, got, prefix)
	}
}

func expectBinary(e *env, what string, f wsFrame, want []byte) {
	e.t.Helper()
	if f.op != ws.OpBinary || !reflect.DeepEqual(f.data, want) {
		e.t.Fatalf("%s: expected %v to deeply equal ArrayBuffer %v", what, f, want)
	}
}

// jsonParseObject is JSON.parse(s) followed by
// `expect(value).to.have.all.keys(keys...)`: s must be a JSON object with
// exactly these keys.
func jsonParseObject(e *env, what, s string, keys ...string) map[string]any {
	e.t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		e.t.Fatalf("%s: JSON.parse(%q) throws: %v", what, s, err)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		e.t.Fatalf("%s: expected %s to be an object with keys %v", what, s, keys)
	}
	got := make([]string, 0, len(obj))
	for k := range obj {
		got = append(got, k)
	}
	want := append([]string(nil), keys...)
	sort.Strings(got)
	sort.Strings(want)
	if !reflect.DeepEqual(got, want) {
		e.t.Fatalf("%s: expected %s to have all keys %v (has %v)", what, s, keys, got)
	}
	return obj
}

// expectEngineHandshake checks the Engine.IO open packet payload (after the
// leading "0") as both suites do.
func expectEngineHandshake(e *env, payload string, upgrades []any) {
	e.t.Helper()
	value := jsonParseObject(e, "handshake", payload, "sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload")
	if _, ok := value["sid"].(string); !ok {
		e.t.Fatalf("handshake: expected sid %#v to be a string", value["sid"])
	}
	if !reflect.DeepEqual(value["upgrades"], upgrades) {
		e.t.Fatalf("handshake: expected upgrades %#v to deeply equal %#v (in %s)", value["upgrades"], upgrades, payload)
	}
	expectJSONNumber(e, "handshake pingInterval", value["pingInterval"], float64(pingInterval.Milliseconds()))
	expectJSONNumber(e, "handshake pingTimeout", value["pingTimeout"], float64(pingTimeout.Milliseconds()))
	expectJSONNumber(e, "handshake maxPayload", value["maxPayload"], 1000000)
}

func expectJSONNumber(e *env, what string, got any, want float64) {
	e.t.Helper()
	if n, ok := got.(float64); !ok || n != want {
		e.t.Fatalf("%s: expected %#v to deeply equal %v", what, got, want)
	}
}

// expectSocketIOHandshake checks a Socket.IO CONNECT reply: data starts with
// prefix and the rest is an object with exactly the key "sid", a string.
func expectSocketIOHandshake(e *env, data, prefix string) {
	e.t.Helper()
	expectStartsWith(e, "CONNECT reply", data, prefix)
	handshake := jsonParseObject(e, "CONNECT reply", data[len(prefix):], "sid")
	if _, ok := handshake["sid"].(string); !ok {
		e.t.Fatalf("CONNECT reply: expected sid %#v to be a string", handshake["sid"])
	}
}

func strptr(s string) *string { return &s }
