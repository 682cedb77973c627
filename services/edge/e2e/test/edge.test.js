// End-to-end tests of the edge service (./services/edge) with the official socket.io-client@4:
// /health, JWT (HS256) authentication on CONNECT, anonymous access, heartbeats.
import { describe, test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { io } from 'socket.io-client';
import {
  TRANSPORTS, ClientPool, resolveLauncher, startServer, waitFor, awaitUpgrade,
  pollUntil, httpGet, signJwt, rsaKeyPair, nowSec, awaitHeartbeats,
} from './helpers.js';

const JWT_SECRET = 'e2e-test-secret-0123456789abcdef';
const PING_INTERVAL_MS = 300;
// Long enough that a loaded machine delivering a ping late does not time the
// session out, short enough that a server ignoring pongs closes it (after
// 1.3 s) before the heartbeat test has seen its 6 pings (1.8 s).
const PING_TIMEOUT_MS = 1000;
const WAIT = 5000;
const EDGE_ENV = {
  JWT_SECRET,
  AUTH_REQUIRED: 'false',
  PING_INTERVAL: `${PING_INTERVAL_MS}ms`,
  PING_TIMEOUT: `${PING_TIMEOUT_MS}ms`,
};
const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

let launcher;
let edge; // AUTH_REQUIRED=false
const pool = new ClientPool();

before(async () => {
  launcher = await resolveLauncher('EDGE', './services/edge', 'edge');
  edge = await startServer(launcher, { env: EDGE_ENV, readyPath: '/health', name: 'edge' });
}, { timeout: 660_000 });

after(async () => {
  pool.closeAll();
  await edge?.stop();
});

afterEach(() => pool.closeAll());

const validToken = (claims = {}) => signJwt({ sub: 'user-123', iat: nowSec(), exp: nowSec() + 3600, ...claims }, { secret: JWT_SECRET });

/**
 * The spec's "Test Connection" snippet: io(url, { auth: { token } }).
 * forceNew keeps io()'s global Manager cache from reusing a previous test's
 * connection options; reconnection is off so a rejection surfaces once.
 */
function snippetSocket(url, token, transportOpts) {
  return pool.track(io(url, { auth: { token }, forceNew: true, reconnection: false, timeout: WAIT, ...transportOpts }));
}

async function expectConnected(socket, mode) {
  const upgraded = mode === 'default' ? awaitUpgrade(socket, WAIT) : null;
  upgraded?.catch(() => {});
  await waitFor(socket, 'connect', { timeout: WAIT, failOn: ['connect_error'] });
  assert.equal(typeof socket.id, 'string');
  assert.ok(socket.id.length > 0);
  if (upgraded) await upgraded;
  assert.equal(socket.io.engine.transport.name, mode === 'polling' ? 'polling' : 'websocket', `transport (mode ${mode})`);
}

/** Expect connect_error with a non-empty message, and no 'connect'. */
async function expectRejected(socket) {
  const [err] = await waitFor(socket, 'connect_error', { timeout: WAIT, failOn: ['connect'] });
  assert.ok(err instanceof Error, 'connect_error argument is an Error');
  assert.equal(typeof err.message, 'string');
  assert.ok(err.message.length > 0, 'connect_error has a message');
  assert.notEqual(err.message, 'timeout', 'rejected by the server, not a client-side timeout');
  assert.equal(socket.connected, false);
  return err;
}

async function health(url) {
  const res = await httpGet(`${url}/health`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  return res.json();
}

describe('GET /health', () => {
  test('JSON shape: exactly status, service, timestamp (ISO 8601), connections', async () => {
    const t0 = Date.now();
    const body = await health(edge.url);
    assert.deepEqual(Object.keys(body).sort(), ['connections', 'service', 'status', 'timestamp']);
    assert.equal(body.status, 'healthy');
    assert.equal(body.service, 'realtime');
    assert.equal(typeof body.timestamp, 'string');
    assert.match(body.timestamp, ISO_8601);
    const ts = Date.parse(body.timestamp);
    assert.ok(Number.isFinite(ts), `timestamp parses: ${body.timestamp}`);
    assert.ok(Math.abs(ts - t0) < 60_000, `timestamp ${body.timestamp} is close to now`);
    assert.equal(typeof body.connections, 'number');
    assert.ok(Number.isInteger(body.connections) && body.connections >= 0, `connections ${body.connections}`);
  });

  test('connections rises with a connected client and falls back after it leaves', async () => {
    const count = async () => (await health(edge.url)).connections;
    // no other client of this server is open at this point (tests run sequentially)
    await pollUntil(async () => (await count()) === 0, { timeout: WAIT, what: 'connections == 0 before connecting' });
    const s = snippetSocket(edge.url, validToken(), TRANSPORTS.websocket);
    await expectConnected(s, 'websocket');
    await pollUntil(async () => (await count()) === 1, { timeout: WAIT, what: 'connections == 1 with one client' });
    const anon = snippetSocket(edge.url, undefined, TRANSPORTS.polling);
    await expectConnected(anon, 'polling');
    await pollUntil(async () => (await count()) === 2, { timeout: WAIT, what: 'connections == 2 with two clients' });
    s.disconnect();
    anon.disconnect();
    await pollUntil(async () => (await count()) === 0, { timeout: WAIT, what: 'connections back to 0 after disconnect' });
  });
});

describe('handshake', () => {
  test('polling handshake carries PING_INTERVAL / PING_TIMEOUT from the environment', async () => {
    const res = await httpGet(`${edge.url}/socket.io/?EIO=4&transport=polling`);
    assert.equal(res.status, 200);
    const body = await res.text();
    assert.equal(body[0], '0', `OPEN packet expected, got ${JSON.stringify(body.slice(0, 100))}`);
    const hs = JSON.parse(body.slice(1));
    assert.equal(hs.pingInterval, PING_INTERVAL_MS);
    assert.equal(hs.pingTimeout, PING_TIMEOUT_MS);
    assert.deepEqual(hs.upgrades, ['websocket']);
  });
});

for (const [mode, transportOpts] of Object.entries(TRANSPORTS)) {
  describe(`transport: ${mode}`, () => {
    test('spec "Test Connection" snippet connects with a valid HS256 token', async () => {
      const s = snippetSocket(edge.url, validToken(), transportOpts);
      await expectConnected(s, mode);
    });

    test('connects anonymously without a token (auth: { token: undefined })', async () => {
      const s = snippetSocket(edge.url, undefined, transportOpts);
      await expectConnected(s, mode);
    });

    test('connects anonymously with no auth payload at all', async () => {
      const s = pool.track(io(edge.url, { forceNew: true, reconnection: false, timeout: WAIT, ...transportOpts }));
      await expectConnected(s, mode);
    });

    test('bad signature -> connect_error', async () => {
      const token = signJwt({ sub: 'user-123', exp: nowSec() + 3600 }, { secret: 'not-the-secret' });
      await expectRejected(snippetSocket(edge.url, token, transportOpts));
    });

    test('expired token -> connect_error', async () => {
      const token = signJwt({ sub: 'user-123', iat: nowSec() - 7200, exp: nowSec() - 3600 }, { secret: JWT_SECRET });
      await expectRejected(snippetSocket(edge.url, token, transportOpts));
    });

    test('alg "none" token -> connect_error', async () => {
      const token = signJwt({ sub: 'user-123', exp: nowSec() + 3600 }, { alg: 'none' });
      await expectRejected(snippetSocket(edge.url, token, transportOpts));
    });

    test('RS256-signed token with only JWT_SECRET configured -> connect_error', async () => {
      const { privateKey } = rsaKeyPair();
      const token = signJwt({ sub: 'user-123', exp: nowSec() + 3600 }, { alg: 'RS256', privateKey });
      await expectRejected(snippetSocket(edge.url, token, transportOpts));
    });

    test('HS512 token signed with JWT_SECRET (wrong alg) -> connect_error', async () => {
      const token = signJwt({ sub: 'user-123', exp: nowSec() + 3600 }, { alg: 'HS512', secret: JWT_SECRET });
      await expectRejected(snippetSocket(edge.url, token, transportOpts));
    });

    test('malformed token -> connect_error', async () => {
      await expectRejected(snippetSocket(edge.url, 'not-a-jwt', transportOpts));
    });

    test(`stays connected across heartbeats (PING_INTERVAL ${PING_INTERVAL_MS}ms)`, async () => {
      const s = snippetSocket(edge.url, validToken(), transportOpts);
      await expectConnected(s, mode);
      const engineId = s.io.engine.id;
      await awaitHeartbeats(s, 6, 6 * PING_INTERVAL_MS + 3000);
      assert.ok(s.connected);
      assert.equal(s.io.engine.id, engineId, 'same engine session');
    });

    test('unknown event with an ack gets an ack or an error event', async () => {
      const s = snippetSocket(edge.url, validToken(), transportOpts);
      await expectConnected(s, mode);
      const outcome = await Promise.race([
        new Promise((res) => {
          s.timeout(3000).emit('e2e:no-such-event', { x: 1 }, (err, ...args) => res(err ? { timeout: err.message } : { ack: args }));
        }),
        waitFor(s, 'error', { timeout: 3500 }).then((args) => ({ error: args }), () => ({ timeout: 'no error event' })),
      ]);
      assert.ok(!outcome.timeout, `neither an ack nor an 'error' event within 3 s (${outcome.timeout})`);
      assert.ok(s.connected, 'still connected after an unknown event');
    });
  });
}

describe('AUTH_REQUIRED=true', () => {
  let strict;
  before(async () => {
    strict = await startServer(launcher, { env: { ...EDGE_ENV, AUTH_REQUIRED: 'true' }, readyPath: '/health', name: 'edge-auth-required' });
  }, { timeout: 30_000 });
  after(async () => { pool.closeAll(); await strict?.stop(); });

  for (const [mode, transportOpts] of Object.entries(TRANSPORTS)) {
    test(`[${mode}] no token -> connect_error`, async () => {
      await expectRejected(snippetSocket(strict.url, undefined, transportOpts));
    });
    test(`[${mode}] no auth payload at all -> connect_error`, async () => {
      await expectRejected(pool.track(io(strict.url, { forceNew: true, reconnection: false, timeout: WAIT, ...transportOpts })));
    });
    test(`[${mode}] valid token still connects`, async () => {
      await expectConnected(snippetSocket(strict.url, validToken(), transportOpts), mode);
    });
    test(`[${mode}] expired token -> connect_error`, async () => {
      const token = signJwt({ sub: 'u', exp: nowSec() - 60 }, { secret: JWT_SECRET });
      await expectRejected(snippetSocket(strict.url, token, transportOpts));
    });
  }
});
