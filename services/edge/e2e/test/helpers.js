// Shared helpers for the e2e suite: spawning the servers under test, free ports,
// readiness polling, bounded waits on socket events, JWT signing (node:crypto).
import { spawn, execFile } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync, createWriteStream, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHmac, createSign, generateKeyPairSync } from 'node:crypto';
import { Manager } from 'socket.io-client';

// services/edge/e2e/test/helpers.js -> repository root is four levels up.
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');

const LOG_DIR = process.env.E2E_LOG_DIR || join(tmpdir(), 'edge-e2e-logs');
mkdirSync(LOG_DIR, { recursive: true });

export const TRANSPORTS = {
  websocket: { transports: ['websocket'] },
  polling: { transports: ['polling'] },
  default: {}, // polling first, then upgrade to websocket
};

// ---------------------------------------------------------------------------
// Timeouts / waits
// ---------------------------------------------------------------------------

/** Reject after `ms` with a descriptive message unless `promise` settles first. */
export function withTimeout(promise, ms, what) {
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, t]).finally(() => clearTimeout(timer));
}

/**
 * Wait for `event` on an emitter (socket.io-client Socket, Manager, engine).
 * Resolves with the listener's argument array. If `failOn` names events
 * (e.g. 'connect_error'), the wait rejects as soon as one of them fires.
 */
export function waitFor(emitter, event, { timeout = 5000, failOn = [] } = {}) {
  return new Promise((resolvePromise, reject) => {
    const cleanups = [];
    const done = (fn) => (...args) => {
      clearTimeout(timer);
      for (const c of cleanups) c();
      fn(...args);
    };
    const onEvent = done((...args) => resolvePromise(args));
    emitter.on(event, onEvent);
    cleanups.push(() => emitter.off(event, onEvent));
    for (const bad of failOn) {
      const onBad = done((...args) => {
        const detail = args[0] instanceof Error ? args[0].message : JSON.stringify(args);
        reject(new Error(`got '${bad}' (${detail}) while waiting for '${event}'`));
      });
      emitter.on(bad, onBad);
      cleanups.push(() => emitter.off(bad, onBad));
    }
    const timer = setTimeout(done(() => reject(new Error(`timed out after ${timeout} ms waiting for '${event}'`))), timeout);
  });
}

/** Poll `fn` (async, returns truthy when done) every `interval` ms, bounded by `timeout`. */
export async function pollUntil(fn, { timeout = 5000, interval = 50, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out after ${timeout} ms waiting for ${what} (last: ${detail})`);
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}

/** GET with a per-request timeout. */
export async function httpGet(url, timeout = 2000) {
  return fetch(url, { signal: AbortSignal.timeout(timeout) });
}

// ---------------------------------------------------------------------------
// Servers under test
// ---------------------------------------------------------------------------

// The kernel may hand the same ephemeral port out again once it is closed,
// so two calls could give two servers one port: never repeat one.
const handedOut = new Set();

/** Ask the kernel for a free TCP port on 127.0.0.1 (listen on 0, then close), never the same one twice. */
export async function freePort() {
  for (;;) {
    const srv = createServer();
    srv.listen(0, '127.0.0.1');
    await once(srv, 'listening');
    const { port } = srv.address();
    srv.close();
    await once(srv, 'close');
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

const buildDirs = [];
process.on('exit', () => {
  for (const d of buildDirs) rmSync(d, { recursive: true, force: true });
});

/** `go build -o <tmp>/<name> <pkg>` from the repo root; resolves to the binary path. */
export async function goBuild(pkg, name) {
  const dir = mkdtempSync(join(tmpdir(), 'edge-e2e-bin-'));
  buildDirs.push(dir);
  const out = join(dir, name);
  await new Promise((res, rej) => {
    execFile('go', ['build', '-o', out, pkg], { cwd: REPO_ROOT, timeout: 600_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) rej(new Error(`go build ${pkg} failed (cwd ${REPO_ROOT}): ${err.message}\n${stderr}`));
      else res();
    });
  });
  return out;
}

/**
 * Resolve how to launch a server kind:
 *   <KIND>_CMD  full shell command (e.g. a stand-in: "node /tmp/standin/edge.mjs")
 *   <KIND>_BIN  path of a prebuilt binary
 *   otherwise   `go build` of `pkg` into a temp dir.
 * Returns { file, args, label }.
 */
export async function resolveLauncher(kind, pkg, name) {
  const cmd = process.env[`${kind}_CMD`];
  if (cmd) return { file: '/bin/sh', args: ['-c', `exec ${cmd}`], label: cmd };
  const bin = process.env[`${kind}_BIN`];
  if (bin) return { file: resolve(bin), args: [], label: bin };
  const built = await goBuild(pkg, name);
  return { file: built, args: [], label: `${built} (go build ${pkg})` };
}

const liveChildren = new Set();
process.on('exit', () => {
  for (const c of liveChildren) {
    try { process.kill(-c.pid, 'SIGKILL'); } catch { /* gone */ }
  }
});

/**
 * Start a server and wait until `readyPath` answers 200.
 * Returns { port, url, child, logFile, stop(signal) }.
 */
export async function startServer(launcher, { port, env = {}, readyPath, name, readyTimeout = 20_000 }) {
  port ??= await freePort();
  const logFile = join(LOG_DIR, `${name}-${port}-${Date.now()}.log`);
  const log = createWriteStream(logFile);
  const child = spawn(launcher.file, launcher.args, {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // own process group, so a shell wrapper and its children die together
  });
  liveChildren.add(child);
  let exited = null;
  const exitPromise = new Promise((res) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      liveChildren.delete(child);
      res(exited);
    });
  });
  child.stdout.pipe(log, { end: false });
  child.stderr.pipe(log, { end: false });
  if (process.env.E2E_VERBOSE) {
    child.stdout.pipe(process.stderr, { end: false });
    child.stderr.pipe(process.stderr, { end: false });
  }
  const url = `http://127.0.0.1:${port}`;

  const stop = async (signal = 'SIGTERM') => {
    if (!exited) {
      try { process.kill(-child.pid, signal); } catch { /* already gone */ }
      const r = await Promise.race([exitPromise, new Promise((r2) => setTimeout(() => r2(null), 3000))]);
      if (!r) {
        try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
        await withTimeout(exitPromise, 3000, `${name} (pid ${child.pid}) to exit after SIGKILL`);
      }
    }
    await new Promise((r) => log.end(r));
  };

  try {
    await pollUntil(async () => {
      if (exited) throw new Error(`${name} exited early (${JSON.stringify(exited)}), see ${logFile}`);
      const res = await httpGet(url + readyPath, 1000);
      await res.arrayBuffer();
      return res.status === 200;
    }, { timeout: readyTimeout, interval: 50, what: `${name} (${launcher.label}) to answer 200 on ${readyPath}` });
  } catch (e) {
    await stop('SIGKILL');
    if (exited && !e.message.includes('exited early')) e.message += ` [exited ${JSON.stringify(exited)}, log ${logFile}]`;
    else e.message += ` [log ${logFile}]`;
    throw e;
  }
  return { port, url, child, logFile, stop, get exited() { return exited; } };
}

// ---------------------------------------------------------------------------
// Clients
// ---------------------------------------------------------------------------

/**
 * Keeps track of every Manager/Socket a test opens so afterEach can close
 * them all (an open socket would keep the test process alive).
 */
export class ClientPool {
  constructor() { this.managers = new Set(); this.sockets = new Set(); }

  /** New (uncached) Manager — io()'s manager cache would leak options between tests. */
  manager(url, opts = {}) {
    const m = new Manager(url, { reconnection: false, timeout: 5000, ...opts });
    this.managers.add(m);
    return m;
  }

  /** Socket for namespace `nsp` on a fresh Manager. */
  socket(url, { nsp = '/', auth, ...opts } = {}) {
    const s = this.manager(url, opts).socket(nsp, auth === undefined ? {} : { auth });
    this.sockets.add(s);
    return s;
  }

  track(s) { this.sockets.add(s); return s; }

  closeAll() {
    for (const s of this.sockets) s.disconnect();
    for (const m of this.managers) {
      m.reconnection(false);
      m.disconnect(); // closes the engine and stops any pending reconnection
    }
    this.sockets.clear();
    this.managers.clear();
  }
}

/** Resolves once the engine of `socket` has upgraded (transport 'websocket'). */
export function awaitUpgrade(socket, timeout = 5000) {
  const engine = socket.io.engine;
  if (engine.transport?.name === 'websocket' && !engine.upgrading) return Promise.resolve();
  return waitFor(engine, 'upgrade', { timeout });
}

/** Connect and, for mode 'default', also await the websocket upgrade; asserts the final transport. */
export async function connectAndCheckTransport(socket, mode, assert, timeout = 5000) {
  // The engine exists synchronously after io()/manager.socket() with autoConnect,
  // so the upgrade listener is attached before the upgrade can happen.
  const upgraded = mode === 'default' ? awaitUpgrade(socket, timeout) : null;
  const connected = socket.connected ? [] : await waitFor(socket, 'connect', { timeout, failOn: ['connect_error'] });
  if (upgraded) await upgraded;
  const name = socket.io.engine.transport.name;
  assert.equal(name, mode === 'polling' ? 'polling' : 'websocket', `transport after connect (mode ${mode})`);
  return connected;
}

/** Normalise any binary value socket.io-client may hand back into a Buffer. */
export function toBuffer(x) {
  if (Buffer.isBuffer(x)) return x;
  if (x instanceof ArrayBuffer) return Buffer.from(x);
  if (ArrayBuffer.isView(x)) return Buffer.from(x.buffer, x.byteOffset, x.byteLength);
  throw new TypeError(`not binary: ${Object.prototype.toString.call(x)}`);
}

export function isBinary(x) {
  return Buffer.isBuffer(x) || x instanceof ArrayBuffer || ArrayBuffer.isView(x);
}

/** Deep structural copy where every binary leaf becomes a Buffer (for deepStrictEqual). */
export function normaliseBinary(v) {
  if (isBinary(v)) return toBuffer(v);
  if (Array.isArray(v)) return v.map(normaliseBinary);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, normaliseBinary(x)]));
  return v;
}

/**
 * Wait for `count` heartbeats (Manager 'ping' events) on a connected socket,
 * failing at once if it disconnects. The error reports ping arrival times.
 */
export function awaitHeartbeats(socket, count, timeout) {
  const t0 = Date.now();
  const seen = [];
  return new Promise((res, rej) => {
    const cleanup = () => { clearTimeout(timer); socket.io.off('ping', onPing); socket.off('disconnect', onDisc); };
    const info = () => `pings at +[${seen.join(', ')}] ms, engine ${socket.io.engine?.id} transport ${socket.io.engine?.transport?.name}`;
    const onPing = () => { seen.push(Date.now() - t0); if (seen.length >= count) { cleanup(); res(seen); } };
    const onDisc = (reason, desc) => {
      cleanup();
      const d = desc?.description?.message ?? desc?.description ?? desc?.context?.statusText ?? '';
      rej(new Error(`disconnected ('${reason}'${d ? `: ${d}` : ''}) after ${Date.now() - t0} ms while waiting for ${count} heartbeats; ${info()}`));
    };
    const timer = setTimeout(() => { cleanup(); rej(new Error(`timed out after ${timeout} ms waiting for ${count} heartbeats; ${info()}`)); }, timeout);
    socket.io.on('ping', onPing);
    socket.on('disconnect', onDisc);
  });
}

// ---------------------------------------------------------------------------
// JWT (compact JWS) signing with node:crypto
// ---------------------------------------------------------------------------

const b64url = (buf) => Buffer.from(buf).toString('base64url');

export function signJwt(payload, { alg = 'HS256', secret, privateKey, header = {} } = {}) {
  const h = b64url(JSON.stringify({ alg, typ: 'JWT', ...header }));
  const p = b64url(JSON.stringify(payload));
  const input = `${h}.${p}`;
  let sig;
  if (alg === 'none') sig = '';
  else if (alg.startsWith('HS')) sig = b64url(createHmac(`sha${alg.slice(2)}`, secret).update(input).digest());
  else if (alg.startsWith('RS')) sig = b64url(createSign(`RSA-SHA${alg.slice(2)}`).update(input).sign(privateKey));
  else throw new Error(`unsupported alg ${alg}`);
  return `${input}.${sig}`;
}

export function rsaKeyPair() {
  return generateKeyPairSync('rsa', { modulusLength: 2048 });
}

export const nowSec = () => Math.floor(Date.now() / 1000);
