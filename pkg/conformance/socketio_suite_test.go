package conformance_test

// Go port of test-suite/test-suite.js of socketio/socket.io-protocol (the
// Socket.IO v5 protocol test suite), run against /socket.io/. One subtest per
// mocha it(...), same names.

import (
	"testing"

	"github.com/gobwas/ws"
)

const sioPath = "/socket.io/"

// initSocketIOConnection is the suite's helper: Engine.IO handshake over
// WebSocket, CONNECT to the main namespace, then read the CONNECT reply and
// the "auth" event (not checked).
func initSocketIOConnection(e *env) *wsConn {
	e.t.Helper()
	socket := e.openWS(sioPath + "?EIO=4&transport=websocket")

	socket.next("Engine.IO handshake")

	socket.send("40")

	socket.next("Socket.IO handshake")
	socket.next(`"auth" packet`)

	return socket
}

func TestSocketIOProtocolSuite(t *testing.T) {
	describe(t, "Engine.IO protocol", func(t *testing.T) {
		describe(t, "handshake", func(t *testing.T) {
			describe(t, "HTTP long-polling", func(t *testing.T) {
				handshakePollingTests(t, sioPath, true)
			})
			describe(t, "WebSocket", func(t *testing.T) {
				handshakeWebSocketTests(t, sioPath, true)
			})
		})

		describe(t, "heartbeat", func(t *testing.T) {
			describe(t, "HTTP long-polling", func(t *testing.T) {
				heartbeatPollingTests(t, sioPath, true)
			})
			describe(t, "WebSocket", func(t *testing.T) {
				heartbeatWebSocketTests(t, sioPath, true)
			})
		})

		describe(t, "close", func(t *testing.T) {
			describe(t, "HTTP long-polling", func(t *testing.T) {
				closePollingTests(t, sioPath, true)
			})
			describe(t, "WebSocket", func(t *testing.T) {
				closeWebSocketTests(t, sioPath, true)
			})
		})

		describe(t, "upgrade", func(t *testing.T) {
			sioUpgradeTests(t)
		})
	})

	describe(t, "Socket.IO protocol", func(t *testing.T) {
		describe(t, "connect", func(t *testing.T) {
			sioConnectTests(t)
		})
		describe(t, "disconnect", func(t *testing.T) {
			sioDisconnectTests(t)
		})
		describe(t, "message", func(t *testing.T) {
			sioMessageTests(t)
		})
	})
}

func sioUpgradeTests(t *testing.T) {
	pollURL := func(sid string) string { return sioPath + "?EIO=4&transport=polling&sid=" + sid }
	wsURL := func(sid string) string { return sioPath + "?EIO=4&transport=websocket&sid=" + sid }

	it(t, "should successfully upgrade from HTTP long-polling to WebSocket", defaultTimeout, func(e *env) {
		sid := e.initLongPollingSession(sioPath)

		socket := e.openWS(wsURL(sid))

		// send probe
		socket.send("2probe")

		probeResponse := socket.nextText("probe response")

		expectEql(e, "probeResponse.data", probeResponse, "3probe")

		// complete upgrade
		socket.send("5")
	})

	it(t, "should ignore HTTP requests with same sid after upgrade", defaultTimeout, func(e *env) {
		sid := e.initLongPollingSession(sioPath)

		socket := e.openWS(wsURL(sid))

		socket.send("2probe")
		socket.send("5")

		pollResponse := e.get(pollURL(sid))

		expectStatus(e, "pollResponse.status", pollResponse, 400)
	})

	it(t, "should ignore WebSocket connection with same sid after upgrade", defaultTimeout, func(e *env) {
		sid := e.initLongPollingSession(sioPath)

		socket := e.openWS(wsURL(sid))

		socket.send("2probe")
		socket.send("5")

		socket2 := openSecondWS(e, wsURL(sid))

		socket2.waitClose("second WebSocket with the same sid")
	})
}

func sioConnectTests(t *testing.T) {
	path := sioPath + "?EIO=4&transport=websocket"

	it(t, "should allow connection to the main namespace", defaultTimeout, func(e *env) {
		socket := e.openWS(path)

		socket.next("Engine.IO handshake")

		socket.send("40")

		data := socket.nextText("Socket.IO handshake")

		expectSocketIOHandshake(e, data, "40")

		authPacket := socket.nextText(`"auth" packet`)

		expectEql(e, "authPacket.data", authPacket, `42["auth",{}]`)
	})

	it(t, "should allow connection to the main namespace with a payload", defaultTimeout, func(e *env) {
		socket := e.openWS(path)

		socket.next("Engine.IO handshake")

		socket.send(`40{"token":"123"}`)

		data := socket.nextText("Socket.IO handshake")

		expectSocketIOHandshake(e, data, "40")

		authPacket := socket.nextText(`"auth" packet`)

		expectEql(e, "authPacket.data", authPacket, `42["auth",{"token":"123"}]`)
	})

	it(t, "should allow connection to a custom namespace", defaultTimeout, func(e *env) {
		socket := e.openWS(path)

		socket.next("Engine.IO handshake")

		socket.send("40/custom,")

		data := socket.nextText("Socket.IO handshake")

		expectSocketIOHandshake(e, data, "40/custom,")

		authPacket := socket.nextText(`"auth" packet`)

		expectEql(e, "authPacket.data", authPacket, `42/custom,["auth",{}]`)
	})

	it(t, "should allow connection to a custom namespace with a payload", defaultTimeout, func(e *env) {
		socket := e.openWS(path)

		socket.next("Engine.IO handshake")

		socket.send(`40/custom,{"token":"abc"}`)

		data := socket.nextText("Socket.IO handshake")

		expectSocketIOHandshake(e, data, "40/custom,")

		authPacket := socket.nextText(`"auth" packet`)

		expectEql(e, "authPacket.data", authPacket, `42/custom,["auth",{"token":"abc"}]`)
	})

	it(t, "should disallow connection to an unknown namespace", defaultTimeout, func(e *env) {
		socket := e.openWS(path)

		socket.next("Engine.IO handshake")

		socket.send("40/random")

		data := socket.nextText("CONNECT_ERROR")

		expectEql(e, "data", data, `44/random,{"message":"Invalid namespace"}`)
	})

	it(t, "should disallow connection with an invalid handshake", defaultTimeout, func(e *env) {
		socket := e.openWS(path)

		socket.next("Engine.IO handshake")

		socket.send("4abc")

		socket.waitClose(`after sending "4abc"`)
	})

	it(t, "should close the connection if no handshake is received", defaultTimeout, func(e *env) {
		socket := e.openWS(path)

		socket.waitClose("no CONNECT sent")
	})
}

func sioDisconnectTests(t *testing.T) {
	it(t, "should disconnect from the main namespace", defaultTimeout, func(e *env) {
		socket := initSocketIOConnection(e)

		socket.send("41")

		data := socket.nextText("after DISCONNECT")

		expectEql(e, "data", data, "2")
	})

	it(t, "should connect then disconnect from a custom namespace", defaultTimeout, func(e *env) {
		socket := initSocketIOConnection(e)

		socket.next("ping")

		socket.send("40/custom")

		socket.next("Socket.IO handshake")
		socket.next("auth packet")

		socket.send("41/custom")
		socket.send(`42["message","message to main namespace"]`)

		data := socket.nextText("message-back")

		expectEql(e, "data", data, `42["message-back","message to main namespace"]`)
	})
}

func sioMessageTests(t *testing.T) {
	it(t, "should send a plain-text packet", defaultTimeout, func(e *env) {
		socket := initSocketIOConnection(e)

		socket.send(`42["message",1,"2",{"3":[true]}]`)

		data := socket.nextText("message-back")

		expectEql(e, "data", data, `42["message-back",1,"2",{"3":[true]}]`)
	})

	it(t, "should send a packet with binary attachments", defaultTimeout, func(e *env) {
		socket := initSocketIOConnection(e)

		socket.send(`452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`)
		socket.sendBinary([]byte{1, 2, 3})
		socket.sendBinary([]byte{4, 5, 6})

		packets := socket.packets(3, "message-back with attachments")

		expectTextFrame(e, "packets[0]", packets[0], `452-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`)
		expectBinary(e, "packets[1]", packets[1], []byte{1, 2, 3})
		expectBinary(e, "packets[2]", packets[2], []byte{4, 5, 6})
	})

	it(t, "should send a plain-text packet with an ack", defaultTimeout, func(e *env) {
		socket := initSocketIOConnection(e)

		socket.send(`42456["message-with-ack",1,"2",{"3":[false]}]`)

		data := socket.nextText("ack")

		expectEql(e, "data", data, `43456[1,"2",{"3":[false]}]`)
	})

	it(t, "should send a packet with binary attachments and an ack", defaultTimeout, func(e *env) {
		socket := initSocketIOConnection(e)

		socket.send(`452-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`)
		socket.sendBinary([]byte{1, 2, 3})
		socket.sendBinary([]byte{4, 5, 6})

		packets := socket.packets(3, "binary ack with attachments")

		expectTextFrame(e, "packets[0]", packets[0], `462-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`)
		expectBinary(e, "packets[1]", packets[1], []byte{1, 2, 3})
		expectBinary(e, "packets[2]", packets[2], []byte{4, 5, 6})
	})

	it(t, "should close the connection upon invalid format (unknown packet type)", defaultTimeout, func(e *env) {
		socket := initSocketIOConnection(e)

		socket.send("4abc")

		socket.waitClose(`after sending "4abc"`)
	})

	it(t, "should close the connection upon invalid format (invalid payload format)", defaultTimeout, func(e *env) {
		socket := initSocketIOConnection(e)

		socket.send("42{}")

		socket.waitClose(`after sending "42{}"`)
	})

	it(t, "should close the connection upon invalid format (invalid ack id)", defaultTimeout, func(e *env) {
		socket := initSocketIOConnection(e)

		socket.send(`42abc["message-with-ack",1,"2",{"3":[false]}]`)

		socket.waitClose(`after sending "42abc[...]"`)
	})
}

// expectTextFrame is `expect(packet).to.eql("...")` for a packet of
// waitForPackets: it must be a string (a text frame) equal to want.
func expectTextFrame(e *env, what string, f wsFrame, want string) {
	e.t.Helper()
	if f.op != ws.OpText || string(f.data) != want {
		e.t.Fatalf("%s: expected %v to deeply equal %q", what, f, want)
	}
}
