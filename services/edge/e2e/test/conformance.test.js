// Socket.IO v5 / Engine.IO v4 conformance, driven by the official socket.io-client@4,
// against ./pkg/conformance/cmd/conformance-server (see README.md for the contract).
import { describe, test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  TRANSPORTS, ClientPool, resolveLauncher, startServer, waitFor, awaitUpgrade, withTimeout,
  httpGet, normaliseBinary, isBinary, toBuffer, awaitHeartbeats,
} from './helpers.js';

const READY_PATH = '/socket.io/?EIO=4&transport=polling';
const PING_INTERVAL = 300;
const PING_TIMEOUT = 200;
const WAIT = 5000;

let launcher;
let server;
const pool = new ClientPool();

before(async () => {
  launcher = await resolveLauncher('CONFORMANCE', './pkg/conformance/cmd/conformance-server', 'conformance-server');
  server = await startServer(launcher, { readyPath: READY_PATH, name: 'conformance' });
}, { timeout: 660_000 });

after(async () => {
  pool.closeAll();
  await server?.stop();
});

afterEach(() => pool.closeAll());

/**
 * Wait for 'connect' and return a function that asserts the transport at the end of
 * the test: for 'default' the engine must have upgraded to websocket (the 'upgrade'
 * listener is attached before the engine can upgrade), otherwise the transport must
 * be the only one allowed. Traffic in 'default' mode therefore starts while the
 * connection may still be on polling / mid-upgrade.
 */
async function open(socket, mode) {
  const upgraded = mode === 'default' ? awaitUpgrade(socket, WAIT) : null;
  upgraded?.catch(() => {}); // asserted later
  if (!socket.connected) await waitFor(socket, 'connect', { timeout: WAIT, failOn: ['connect_error'] });
  assert.equal(typeof socket.id, 'string', 'socket.id after connect');
  if (mode !== 'default') assert.equal(socket.io.engine.transport.name, mode, 'transport right after connect');
  return async () => {
    if (upgraded) {
      await upgraded;
      assert.equal(socket.io.engine.transport.name, 'websocket', 'transport after upgrade event');
    } else {
      assert.equal(socket.io.engine.transport.name, mode, 'transport at end of test');
    }
    assert.ok(socket.connected, 'socket still connected at end of test');
  };
}

/** emit('message', ...args) and resolve with the args of the next 'message-back'. */
async function echo(socket, ...args) {
  const back = waitFor(socket, 'message-back', { timeout: WAIT, failOn: ['disconnect'] });
  socket.emit('message', ...args);
  return back;
}

function assertSameBytes(got, want, label) {
  assert.ok(isBinary(got), `${label}: expected binary, got ${Object.prototype.toString.call(got)} ${JSON.stringify(got)?.slice(0, 200)}`);
  const g = toBuffer(got);
  if (!g.equals(want)) {
    let i = 0;
    while (i < Math.min(g.length, want.length) && g[i] === want[i]) i++;
    assert.fail(`${label}: bytes differ (got ${g.length} bytes, want ${want.length}; first difference at index ${i})`);
  }
}

const MIXED = [
  'hello',
  42,
  -3.5,
  true,
  false,
  null,
  '',
  'ünïcødé ✓ 🚀 "quoted" \\ back\nslash',
  { nested: { a: [1, 'two', { three: 3 }], empty: {}, list: [] } },
  [1, [2, [3]], { k: 'v' }],
];

test('polling handshake advertises pingInterval/pingTimeout and the websocket upgrade', async () => {
  const res = await httpGet(server.url + READY_PATH);
  assert.equal(res.status, 200);
  const body = await res.text();
  assert.equal(body[0], '0', `handshake must be an OPEN packet, got ${JSON.stringify(body.slice(0, 100))}`);
  const hs = JSON.parse(body.slice(1));
  assert.equal(typeof hs.sid, 'string');
  assert.ok(hs.sid.length > 0);
  assert.deepEqual(hs.upgrades, ['websocket']);
  assert.equal(hs.pingInterval, PING_INTERVAL);
  assert.equal(hs.pingTimeout, PING_TIMEOUT);
  assert.equal(typeof hs.maxPayload, 'number');
});

for (const [mode, transportOpts] of Object.entries(TRANSPORTS)) {
  describe(`transport: ${mode}`, () => {
    const url = () => server.url;
    const sock = (opts = {}) => pool.socket(url(), { ...transportOpts, ...opts });

    test('connect and receive the auth echo with the CONNECT auth payload', async () => {
      const auth = { token: 'abc.def.ghi', n: 7, nested: { ok: true, list: [1, 'x'] } };
      const s = sock({ auth });
      const gotAuth = waitFor(s, 'auth', { timeout: WAIT, failOn: ['connect_error'] });
      const check = await open(s, mode);
      const [payload] = await gotAuth;
      assert.deepEqual(payload, auth);
      await check();
    });

    test('message -> message-back with mixed arguments', async () => {
      const s = sock();
      const check = await open(s, mode);
      const got = await echo(s, ...MIXED);
      assert.deepEqual(got, MIXED);
      // a second round trip on the same connection
      assert.deepEqual(await echo(s, 'again', 2), ['again', 2]);
      await check();
    });

    test('emitWithAck on message-with-ack (single and multiple ack arguments)', async () => {
      const s = sock();
      const check = await open(s, mode);
      const single = await withTimeout(s.emitWithAck('message-with-ack', { a: 1, b: ['x'] }), WAIT, 'ack of message-with-ack');
      assert.deepEqual(single, { a: 1, b: ['x'] });
      const multi = await withTimeout(new Promise((res, rej) => {
        s.timeout(WAIT).emit('message-with-ack', ...MIXED, (err, ...args) => (err ? rej(err) : res(args)));
      }), WAIT + 500, 'multi-arg ack');
      assert.deepEqual(multi, MIXED);
      // several acks in flight at once must be matched to the right ids
      const many = await withTimeout(Promise.all(Array.from({ length: 20 }, (_, i) => s.emitWithAck('message-with-ack', i))), WAIT, '20 concurrent acks');
      assert.deepEqual(many, Array.from({ length: 20 }, (_, i) => i));
      await check();
    });

    test('server -> client ack via request-ack / ack-request / ack-response', async () => {
      const s = sock();
      const check = await open(s, mode);
      const reqArgs = ['please-ack', { id: 1 }, [true, null]];
      const ackArgs = ['acked-by-client', 99, { deep: { x: 'y' } }];
      let requestArgs;
      s.on('ack-request', (...args) => {
        const cb = args.pop();
        requestArgs = args;
        assert.equal(typeof cb, 'function', 'ack-request must carry an ack id (callback)');
        cb(...ackArgs);
      });
      const response = waitFor(s, 'ack-response', { timeout: WAIT, failOn: ['disconnect'] });
      s.emit('request-ack', ...reqArgs);
      const got = await response;
      assert.deepEqual(requestArgs, reqArgs, 'ack-request arguments');
      assert.deepEqual(got, ackArgs, 'ack-response arguments');
      await check();
    });

    // Binary both directions. Arguments mix top-level and nested Buffer/Uint8Array.
    const b1 = Buffer.from([0, 1, 2, 3, 255, 254, 128, 127]);
    const b2 = new Uint8Array([9, 8, 7, 6, 5]);
    const b3 = randomBytes(1000);
    const binArgs = ['text-first', b1, { file: b2, meta: { name: 'x.bin', parts: [b3, 'str'] } }, 5];

    test('binary: message -> message-back (BINARY_EVENT both ways, nested attachments)', async () => {
      const s = sock();
      const check = await open(s, mode);
      const back = await echo(s, ...binArgs);
      assertSameBytes(back[1], b1, 'message-back arg 1');
      assertSameBytes(back[2].file, Buffer.from(b2), 'message-back arg 2 .file');
      assertSameBytes(back[2].meta.parts[0], b3, 'message-back arg 2 .meta.parts[0]');
      assert.deepEqual(normaliseBinary(back), normaliseBinary(binArgs));
      await check();
    });

    test('binary: message-with-ack acks with the binary arguments (BINARY_ACK server -> client)', async () => {
      const s = sock();
      const check = await open(s, mode);
      const acked = await withTimeout(new Promise((res, rej) => {
        s.timeout(WAIT).emit('message-with-ack', ...binArgs, (err, ...a) => (err ? rej(err) : res(a)));
      }), WAIT + 500, 'binary ack');
      assert.deepEqual(normaliseBinary(acked), normaliseBinary(binArgs));
      await check();
    });

    /** request-ack round trip: returns { request: ack-request args, response: ack-response args }. */
    async function serverAckRoundTrip(s, reqArgs, clientAck) {
      let request;
      s.on('ack-request', (...a) => { const cb = a.pop(); request = a; cb(...clientAck); });
      const resp = waitFor(s, 'ack-response', { timeout: WAIT, failOn: ['disconnect'] });
      s.emit('request-ack', ...reqArgs);
      const response = await resp;
      return { request, response };
    }

    test('binary: server -> client ack with top-level binary arguments', async () => {
      const s = sock();
      const check = await open(s, mode);
      const reqArgs = [Buffer.from([1, 2, 3]), 'mid', new Uint8Array([4, 5])];
      const clientAck = [Buffer.from('client-ack-bytes'), 'x'];
      const { request, response } = await serverAckRoundTrip(s, reqArgs, clientAck);
      assert.deepEqual(normaliseBinary(request), normaliseBinary(reqArgs), 'ack-request args (BINARY_EVENT with ack id)');
      assert.deepEqual(normaliseBinary(response), normaliseBinary(clientAck), 'ack-response args (after client BINARY_ACK)');
      await check();
    });

    test('binary: server -> client ack with nested binary in the request (ack-request)', async () => {
      const s = sock();
      const check = await open(s, mode);
      const { request, response } = await serverAckRoundTrip(s, binArgs, ['text-ack']);
      assert.deepEqual(normaliseBinary(request), normaliseBinary(binArgs), 'ack-request args (BINARY_EVENT with ack id)');
      assert.deepEqual(response, ['text-ack'], 'ack-response args');
      await check();
    });

    test('binary: server -> client ack where the client acks with nested binary (ack-response)', async () => {
      const s = sock();
      const check = await open(s, mode);
      const clientAck = [Buffer.from('client-ack-bytes'), { inner: new Uint8Array([1, 2, 3]), list: ['s', Buffer.from([7])] }];
      const { request, response } = await serverAckRoundTrip(s, ['text-request'], clientAck);
      assert.deepEqual(request, ['text-request'], 'ack-request args');
      assert.deepEqual(normaliseBinary(response), normaliseBinary(clientAck), 'ack-response args (after client BINARY_ACK)');
      await check();
    });

    test('zero-length binary attachment is echoed', async () => {
      const s = sock();
      const check = await open(s, mode);
      const back = await echo(s, Buffer.alloc(0), 'after-empty');
      assertSameBytes(back[0], Buffer.alloc(0), 'empty buffer');
      assert.equal(back[1], 'after-empty');
      await check();
    });

    test('256 KiB string payload echoed', async () => {
      const s = sock();
      const check = await open(s, mode);
      const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789-_';
      const bytes = randomBytes(256 * 1024);
      const big = Array.from(bytes, (b) => alphabet[b % alphabet.length]).join('');
      assert.equal(big.length, 256 * 1024);
      const [got] = await echo(s, big);
      assert.equal(typeof got, 'string');
      assert.equal(got.length, big.length, 'echoed string length');
      assert.ok(got === big, 'echoed string content differs');
      await check();
    });

    test('256 KiB binary payload echoed', async () => {
      const s = sock();
      const check = await open(s, mode);
      const big = randomBytes(256 * 1024);
      const [got] = await echo(s, big);
      assertSameBytes(got, big, '256 KiB buffer');
      await check();
    });

    test('multiplexed /custom namespace with its own auth', async () => {
      const m = pool.manager(url(), transportOpts);
      const rootAuth = { ns: 'root', token: 'root-token' };
      const customAuth = { ns: 'custom', token: 'custom-token', extra: [1, 2] };
      const root = pool.track(m.socket('/', { auth: rootAuth }));
      const custom = pool.track(m.socket('/custom', { auth: customAuth }));
      const rootAuthEcho = waitFor(root, 'auth', { timeout: WAIT, failOn: ['connect_error'] });
      const customAuthEcho = waitFor(custom, 'auth', { timeout: WAIT, failOn: ['connect_error'] });
      const checkRoot = await open(root, mode);
      await open(custom, mode);
      assert.deepEqual((await rootAuthEcho)[0], rootAuth, 'auth echo on /');
      assert.deepEqual((await customAuthEcho)[0], customAuth, 'auth echo on /custom');
      assert.equal(root.io, custom.io, 'both namespaces share one Manager');
      assert.notEqual(root.id, custom.id, 'each namespace has its own socket id');

      // an event on /custom is answered on /custom only
      let leakedToRoot = false;
      root.on('message-back', () => { leakedToRoot = true; });
      assert.deepEqual(await echo(custom, 'on-custom', 1), ['on-custom', 1]);
      assert.deepEqual(await withTimeout(custom.emitWithAck('message-with-ack', 'ack-custom'), WAIT, 'ack on /custom'), 'ack-custom');
      assert.deepEqual(await withTimeout(root.emitWithAck('message-with-ack', 'ack-root'), WAIT, 'ack on /'), 'ack-root');
      assert.equal(leakedToRoot, false, 'message-back for /custom must not arrive on /');

      // leaving /custom keeps / working on the same engine connection
      const engineId = m.engine.id;
      custom.disconnect();
      root.off('message-back');
      assert.deepEqual(await echo(root, 'still-here'), ['still-here']);
      assert.equal(m.engine.id, engineId, 'same engine session after leaving /custom');
      await checkRoot();
    });

    test(`stays connected across heartbeats (pingInterval ${PING_INTERVAL} ms)`, async () => {
      const s = sock();
      const check = await open(s, mode);
      const engineId = s.io.engine.id;
      // 6 pings ~= 1.8 s; each one is answered by the client with a pong, so a
      // server that mishandles pongs would time the session out (pingTimeout 200 ms).
      await awaitHeartbeats(s, 6, 6 * PING_INTERVAL + 3000);
      assert.ok(s.connected);
      assert.equal(s.io.engine.id, engineId, 'same engine session');
      assert.deepEqual(await echo(s, 'after-heartbeats'), ['after-heartbeats']);
      await check();
    });

    test('reconnects by itself after a server restart on the same port', async () => {
      const s = sock({ reconnection: true, reconnectionDelay: 100, reconnectionDelayMax: 300, randomizationFactor: 0, auth: { again: true } });
      await open(s, mode);
      const firstId = s.id;
      const disconnected = waitFor(s, 'disconnect', { timeout: WAIT });
      const port = server.port;
      await server.stop('SIGKILL'); // a crash: no graceful close, the client must notice the dead transport
      const [reason] = await disconnected;
      assert.ok(['transport close', 'transport error', 'ping timeout'].includes(reason), `disconnect reason ${reason}`);

      const reconnected = waitFor(s, 'connect', { timeout: 15_000 });
      const authAgain = waitFor(s, 'auth', { timeout: 15_000 });
      server = await startServer(launcher, { port, readyPath: READY_PATH, name: 'conformance' });
      await reconnected;
      assert.ok(s.connected);
      assert.notEqual(s.id, firstId, 'new session after restart');
      assert.deepEqual((await authAgain)[0], { again: true }, 'auth payload re-sent on reconnect');
      if (mode === 'default') await awaitUpgrade(s, WAIT);
      assert.equal(s.io.engine.transport.name, mode === 'polling' ? 'polling' : 'websocket');
      assert.deepEqual(await echo(s, 'after-restart', Buffer.from([1, 2])).then(normaliseBinary), ['after-restart', Buffer.from([1, 2])]);
    });
  });
}
