package conformance_test

// Go port of test-suite/test-suite.js of socketio/engine.io-protocol (the
// Engine.IO v4 protocol test suite), run against the bare Engine.IO echo
// endpoint /engine.io/. One subtest per mocha it(...), same names.

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

const eioPath = "/engine.io/"

func TestEngineIOProtocolSuite(t *testing.T) {
	describe(t, "Engine.IO protocol", func(t *testing.T) {
		describe(t, "handshake", func(t *testing.T) {
			describe(t, "HTTP long-polling", func(t *testing.T) {
				handshakePollingTests(t, eioPath, false)
			})
			describe(t, "WebSocket", func(t *testing.T) {
				handshakeWebSocketTests(t, eioPath, false)
			})
		})

		describe(t, "message", func(t *testing.T) {
			describe(t, "HTTP long-polling", func(t *testing.T) {
				eioMessagePollingTests(t)
			})
			describe(t, "WebSocket", func(t *testing.T) {
				eioMessageWebSocketTests(t)
			})
		})

		describe(t, "heartbeat", func(t *testing.T) {
			describe(t, "HTTP long-polling", func(t *testing.T) {
				heartbeatPollingTests(t, eioPath, false)
			})
			describe(t, "WebSocket", func(t *testing.T) {
				heartbeatWebSocketTests(t, eioPath, false)
			})
		})

		describe(t, "close", func(t *testing.T) {
			describe(t, "HTTP long-polling", func(t *testing.T) {
				closePollingTests(t, eioPath, false)
			})
			describe(t, "WebSocket", func(t *testing.T) {
				closeWebSocketTests(t, eioPath, false)
			})
		})

		describe(t, "upgrade", func(t *testing.T) {
			eioUpgradeTests(t)
		})
	})
}

// ---------------------------------------------------------------------------
// Tests shared by both suites: the socket.io suite repeats these Engine.IO
// tests against /socket.io/ under "should ..." names; sio selects those names.

// pick returns the socket.io suite's test name when sio is set, else the
// engine.io suite's.
func pick(sio bool, sioName, eioName string) string {
	if sio {
		return sioName
	}
	return eioName
}

func handshakePollingTests(t *testing.T, path string, sio bool) {
	it(t, pick(sio, "should successfully open a session", "successfully opens a session"), defaultTimeout, func(e *env) {
		response := e.get(path + "?EIO=4&transport=polling")

		expectStatus(e, "response.status", response, 200)

		content := response.body

		expectStartsWith(e, "content", content, "0")

		expectEngineHandshake(e, content[1:], []any{"websocket"})
	})

	it(t, pick(sio, "should fail with an invalid 'EIO' query parameter", "fails with an invalid 'EIO' query parameter"), defaultTimeout, func(e *env) {
		response := e.get(path + "?transport=polling")

		expectStatus(e, "response.status (no EIO)", response, 400)

		response2 := e.get(path + "?EIO=abc&transport=polling")

		expectStatus(e, "response2.status (EIO=abc)", response2, 400)
	})

	it(t, pick(sio, "should fail with an invalid 'transport' query parameter", "fails with an invalid 'transport' query parameter"), defaultTimeout, func(e *env) {
		response := e.get(path + "?EIO=4")

		expectStatus(e, "response.status (no transport)", response, 400)

		response2 := e.get(path + "?EIO=4&transport=abc")

		expectStatus(e, "response2.status (transport=abc)", response2, 400)
	})

	it(t, pick(sio, "should fail with an invalid request method", "fails with an invalid request method"), defaultTimeout, func(e *env) {
		response := e.send(http.MethodPost, path+"?EIO=4&transport=polling", nil)

		expectStatus(e, "response.status (POST)", response, 400)

		response2 := e.send(http.MethodPut, path+"?EIO=4&transport=polling", nil)

		expectStatus(e, "response2.status (PUT)", response2, 400)
	})
}

func handshakeWebSocketTests(t *testing.T, path string, sio bool) {
	it(t, pick(sio, "should successfully open a session", "successfully opens a session"), defaultTimeout, func(e *env) {
		socket := e.openWS(path + "?EIO=4&transport=websocket")

		data := socket.nextText("handshake")

		expectStartsWith(e, "data", data, "0")

		expectEngineHandshake(e, data[1:], []any{})
	})

	// In the suites these two tests assert nothing: their waitFor(socket,
	// "close") promises are not awaited. The port accepts a refused upgrade
	// (any HTTP status) or an upgrade followed by a close, and only checks that
	// no Engine.IO session is opened (no "0{...}" open packet).
	it(t, pick(sio, "should fail with an invalid 'EIO' query parameter", "fails with an invalid 'EIO' query parameter"), defaultTimeout, func(e *env) {
		expectNoSession(e, path+"?transport=websocket")

		expectNoSession(e, path+"?EIO=abc&transport=websocket")
	})

	it(t, pick(sio, "should fail with an invalid 'transport' query parameter", "fails with an invalid 'transport' query parameter"), defaultTimeout, func(e *env) {
		expectNoSession(e, path+"?EIO=4")

		expectNoSession(e, path+"?EIO=4&transport=abc")
	})
}

// expectNoSession opens a WebSocket that the server must not turn into an
// Engine.IO session.
func expectNoSession(e *env, path string) {
	e.t.Helper()
	socket, err := e.dialWS(path)
	if err != nil {
		var se ws.StatusError
		if errors.As(err, &se) {
			e.t.Logf("%s: upgrade refused with HTTP %d", path, int(se))
		} else {
			e.t.Logf("%s: upgrade failed: %v", path, err)
		}
		return
	}
	select {
	case f := <-socket.frames:
		if f.op == ws.OpText && strings.HasPrefix(string(f.data), "0") {
			e.t.Fatalf("%s: the server opened an Engine.IO session: %v", path, f)
		}
		e.t.Logf("%s: upgraded, then got %v", path, f)
	case <-socket.done:
		e.t.Logf("%s: upgraded, then closed (%s)", path, socket.endReason())
	case <-time.After(500 * time.Millisecond):
		e.t.Logf("%s: upgraded, nothing received within 500ms", path)
	}
}

func heartbeatPollingTests(t *testing.T, path string, sio bool) {
	it(t, pick(sio, "should send ping/pong packets", "sends ping/pong packets"), heartbeatTimeout, func(e *env) {
		sid := e.initLongPollingSession(path)

		for i := 0; i < 3; i++ {
			pollResponse := e.get(path + "?EIO=4&transport=polling&sid=" + sid)

			expectStatus(e, "pollResponse.status", pollResponse, 200)

			expectEql(e, "pollContent", pollResponse.body, "2")

			pushResponse := e.post(path+"?EIO=4&transport=polling&sid="+sid, "3")

			expectStatus(e, "pushResponse.status", pushResponse, 200)
		}
	})

	it(t, pick(sio, "should close the session upon ping timeout", "closes the session upon ping timeout"), heartbeatTimeout, func(e *env) {
		sid := e.initLongPollingSession(path)

		// sleep(PING_INTERVAL + PING_TIMEOUT), plus the few milliseconds that
		// setTimeout and node-fetch take before the GET reaches the server in
		// the suite (mocha reports ~504ms for this test against Node.js): the
		// suite leaves the server that much time, no more.
		e.sleep(pingInterval + pingTimeout + fetchSlack)

		pollResponse := e.get(path + "?EIO=4&transport=polling&sid=" + sid)

		expectStatus(e, "pollResponse.status", pollResponse, 400)
	})
}

func heartbeatWebSocketTests(t *testing.T, path string, sio bool) {
	it(t, pick(sio, "should send ping/pong packets", "sends ping/pong packets"), heartbeatTimeout, func(e *env) {
		socket := e.openWS(path + "?EIO=4&transport=websocket")

		socket.next("handshake")

		for i := 0; i < 3; i++ {
			data := socket.nextText("ping")

			expectEql(e, "data", data, "2")

			socket.send("3")
		}
	})

	it(t, pick(sio, "should close the session upon ping timeout", "closes the session upon ping timeout"), heartbeatTimeout, func(e *env) {
		socket := e.openWS(path + "?EIO=4&transport=websocket")

		socket.waitClose("no pong sent")
	})
}

func closePollingTests(t *testing.T, path string, sio bool) {
	it(t, pick(sio, "should forcefully close the session", "forcefully closes the session"), defaultTimeout, func(e *env) {
		sid := e.initLongPollingSession(path)

		// Promise.all([fetch(GET), fetch(POST "1")])
		poll := e.start(http.MethodGet, path+"?EIO=4&transport=polling&sid="+sid, nil)
		push := e.start(http.MethodPost, path+"?EIO=4&transport=polling&sid="+sid, strptr("1"))
		pollResponse := poll.wait(e)
		push.wait(e)

		expectStatus(e, "pollResponse.status", pollResponse, 200)

		expectEql(e, "pullContent", pollResponse.body, "6")

		pollResponse2 := e.get(path + "?EIO=4&transport=polling&sid=" + sid)

		expectStatus(e, "pollResponse2.status", pollResponse2, 400)
	})
}

func closeWebSocketTests(t *testing.T, path string, sio bool) {
	it(t, pick(sio, "should forcefully close the session", "forcefully closes the session"), defaultTimeout, func(e *env) {
		socket := e.openWS(path + "?EIO=4&transport=websocket")

		socket.next("handshake")

		socket.send("1")

		socket.waitClose(`after sending "1"`)
	})
}

// ---------------------------------------------------------------------------
// Engine.IO suite only

func eioMessagePollingTests(t *testing.T) {
	url := func(sid string) string { return eioPath + "?EIO=4&transport=polling&sid=" + sid }

	it(t, "sends and receives a payload containing one plain text packet", defaultTimeout, func(e *env) {
		sid := e.initLongPollingSession(eioPath)

		pushResponse := e.post(url(sid), "4hello")

		expectStatus(e, "pushResponse.status", pushResponse, 200)

		expectEql(e, "postContent", pushResponse.body, "ok")

		pollResponse := e.get(url(sid))

		expectStatus(e, "pollResponse.status", pollResponse, 200)

		expectEql(e, "pollContent", pollResponse.body, "4hello")
	})

	it(t, "sends and receives a payload containing several plain text packets", defaultTimeout, func(e *env) {
		sid := e.initLongPollingSession(eioPath)

		pushResponse := e.post(url(sid), "4test1\x1e4test2\x1e4test3")

		expectStatus(e, "pushResponse.status", pushResponse, 200)

		expectEql(e, "postContent", pushResponse.body, "ok")

		pollResponse := e.get(url(sid))

		expectStatus(e, "pollResponse.status", pollResponse, 200)

		expectEql(e, "pollContent", pollResponse.body, "4test1\x1e4test2\x1e4test3")
	})

	it(t, "sends and receives a payload containing plain text and binary packets", defaultTimeout, func(e *env) {
		sid := e.initLongPollingSession(eioPath)

		pushResponse := e.post(url(sid), "4hello\x1ebAQIDBA==")

		expectStatus(e, "pushResponse.status", pushResponse, 200)

		expectEql(e, "postContent", pushResponse.body, "ok")

		pollResponse := e.get(url(sid))

		expectStatus(e, "pollResponse.status", pollResponse, 200)

		expectEql(e, "pollContent", pollResponse.body, "4hello\x1ebAQIDBA==")
	})

	it(t, "closes the session upon invalid packet format", defaultTimeout, func(e *env) {
		sid := e.initLongPollingSession(eioPath)

		// In the suite, expect(pushResponse.status).to.eql(400) sits in a
		// try/catch that swallows both network errors and assertion errors:
		// the POST's outcome is not checked.
		pushResponse, err := e.do(http.MethodPost, url(sid), strptr("abc"), nil)
		if err != nil {
			e.t.Logf("POST abc: %v (ignored, as in the suite)", err)
		} else if pushResponse.status != 400 {
			e.t.Logf("POST abc: HTTP %d %q (not 400; ignored, as in the suite)", pushResponse.status, pushResponse.body)
		}

		pollResponse := e.get(url(sid))

		expectStatus(e, "pollResponse.status", pollResponse, 400)
	})

	it(t, "closes the session upon duplicate poll requests", defaultTimeout, func(e *env) {
		sid := e.initLongPollingSession(eioPath)

		// Promise.all([fetch(GET), sleep(5).then(() => fetch(GET &t=burst))])
		first := e.start(http.MethodGet, url(sid), nil)
		e.sleep(5 * time.Millisecond)
		second := e.start(http.MethodGet, url(sid)+"&t=burst", nil)
		pollResponses := []response{first.wait(e), second.wait(e)}

		expectStatus(e, "pollResponses[0].status", pollResponses[0], 200)

		expectEql(e, "content", pollResponses[0].body, "1")

		// the Node.js implementation uses HTTP 500 (Internal Server Error), but HTTP 400 seems more suitable
		expectStatusOneOf(e, "pollResponses[1].status", pollResponses[1], 400, 500)

		pollResponse := e.get(url(sid))

		expectStatus(e, "pollResponse.status", pollResponse, 400)
	})
}

func eioMessageWebSocketTests(t *testing.T) {
	path := eioPath + "?EIO=4&transport=websocket"

	it(t, "sends and receives a plain text packet", defaultTimeout, func(e *env) {
		socket := e.openWS(path)

		socket.next("handshake")

		socket.send("4hello")

		data := socket.nextText("echo")

		expectEql(e, "data", data, "4hello")
	})

	it(t, "sends and receives a binary packet", defaultTimeout, func(e *env) {
		socket := e.openWS(path)

		socket.next("handshake")

		socket.sendBinary([]byte{1, 2, 3, 4})

		data := socket.next("echo")

		expectBinary(e, "data", data, []byte{1, 2, 3, 4})
	})

	it(t, "closes the session upon invalid packet format", defaultTimeout, func(e *env) {
		socket := e.openWS(path)

		socket.next("handshake")

		socket.send("abc")

		socket.waitClose(`after sending "abc"`)
	})
}

func eioUpgradeTests(t *testing.T) {
	pollURL := func(sid string) string { return eioPath + "?EIO=4&transport=polling&sid=" + sid }
	wsURL := func(sid string) string { return eioPath + "?EIO=4&transport=websocket&sid=" + sid }

	it(t, "successfully upgrades from HTTP long-polling to WebSocket", defaultTimeout, func(e *env) {
		sid := e.initLongPollingSession(eioPath)

		socket := e.openWS(wsURL(sid))

		// send probe
		socket.send("2probe")

		probeResponse := socket.nextText("probe response")

		expectEql(e, "probeResponse.data", probeResponse, "3probe")

		pollResponse := e.get(pollURL(sid))

		expectStatus(e, "pollResponse.status", pollResponse, 200)

		expectEql(e, "pollContent", pollResponse.body, "6") // "noop" packet to cleanly end the HTTP long-polling request

		// Messages received while the suite awaited the fetch are lost there.
		socket.drop()

		// complete upgrade
		socket.send("5")

		socket.send("4hello")

		data := socket.nextText("echo")

		expectEql(e, "data", data, "4hello")
	})

	it(t, "ignores HTTP requests with same sid after upgrade", defaultTimeout, func(e *env) {
		sid := e.initLongPollingSession(eioPath)

		socket := e.openWS(wsURL(sid))

		socket.send("2probe")
		socket.send("5")

		pollResponse := e.get(pollURL(sid))

		expectStatus(e, "pollResponse.status", pollResponse, 400)

		// The suite has no "message" listener until now: the "3probe" reply
		// (and anything else received so far) is lost there.
		socket.drop()

		socket.send("4hello")

		data := nextSkippingProbe(socket, "echo")

		expectEql(e, "data", data, "4hello")
	})

	it(t, "ignores WebSocket connection with same sid after upgrade", defaultTimeout, func(e *env) {
		sid := e.initLongPollingSession(eioPath)

		socket := e.openWS(wsURL(sid))

		socket.send("2probe")
		socket.send("5")

		socket2 := openSecondWS(e, wsURL(sid))

		socket2.waitClose("second WebSocket with the same sid")

		// The suite has no "message" listener on socket until now.
		socket.drop()

		socket.send("4hello")

		data := nextSkippingProbe(socket, "echo")

		expectEql(e, "data", data, "4hello")
	})
}

// nextSkippingProbe returns the next text message, skipping a "3probe" that
// might still be on its way after drop() (the suites never see it).
func nextSkippingProbe(socket *wsConn, what string) string {
	socket.e.t.Helper()
	for {
		data := socket.nextText(what)
		if data != "3probe" {
			return data
		}
	}
}

// openSecondWS opens `new WebSocket(url)` for a second connection with the
// sid of an upgraded session. In the suites that socket has no "error"
// listener: with the ws client, a refused upgrade (HTTP 400) emits "error"
// with no listener, which throws ("Unexpected server response: 400") and fails
// the mocha test; only an accepted upgrade followed by a close passes there.
func openSecondWS(e *env, path string) *wsConn {
	e.t.Helper()
	socket2, err := e.dialWS(path)
	if err != nil {
		e.t.Fatalf(
			"second WebSocket %s: %v; the suite's ws client has no \"error\" listener on this socket, "+
				"so a refused upgrade is an uncaught error there (the Node.js server accepts the upgrade, then closes it)",
			path, err,
		)
	}
	return socket2
}
