// Generic helpers of the integration suite: bounded waits, polling, free
// ports, JWT signing (node:crypto), percentiles, the sarama hash partitioner.
// (Ideas copied from services/edge/e2e/test/helpers.js; nothing is imported
// across packages.)
import { once } from 'node:events';
import { createServer } from 'node:net';
import { createHmac, randomBytes } from 'node:crypto';

/** Reject after `ms` with a descriptive message unless `promise` settles first. */
export function withTimeout(promise, ms, what) {
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, t]).finally(() => clearTimeout(timer));
}

/**
 * Wait for `event` on an emitter; resolves with the listener's argument
 * array. Rejects at once on any event named in `failOn`, or after `timeout`.
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

export const delay = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Call `fn` (async; truthy result = done) every `interval` ms until it
 * succeeds or `timeout` passes. A throw counts as "not yet"; the last
 * result or error is part of the timeout message.
 */
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
    await delay(interval);
  }
}

/** GET with a per-request timeout. */
export async function httpGet(url, timeout = 2000) {
  return fetch(url, { signal: AbortSignal.timeout(timeout) });
}

/** Ask the kernel for a free TCP port on 127.0.0.1. */
// The kernel may hand the same ephemeral port out again once it is closed,
// so two calls could give two processes one port: never repeat one.
const handedOut = new Set();

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

/** Short random id (safe for contract ids: [A-Za-z0-9_.:@-]). */
export const rid = (n = 6) => randomBytes(n).toString('hex');

// ---------------------------------------------------------------------------
// JWT (HS256) with node:crypto
// ---------------------------------------------------------------------------

const b64url = (buf) => Buffer.from(buf).toString('base64url');
export const nowSec = () => Math.floor(Date.now() / 1000);

export function signJwtHS256(payload, secret) {
  const input = `${b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${b64url(JSON.stringify(payload))}`;
  return `${input}.${b64url(createHmac('sha256', secret).update(input).digest())}`;
}

// ---------------------------------------------------------------------------
// Statistics
// ---------------------------------------------------------------------------

/** Nearest-rank percentile of an array of numbers. */
export function percentile(values, p) {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * s.length);
  return s[Math.min(s.length, Math.max(1, rank)) - 1];
}

// ---------------------------------------------------------------------------
// Kafka partitioning as the services' producer does it (sarama's default
// hash partitioner: FNV-1a 32 of the key, as int32, modulo, absolute value).
// ---------------------------------------------------------------------------

export function fnv1a32(str) {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(str, 'utf8')) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

export function saramaPartition(key, numPartitions) {
  const p = (fnv1a32(key) | 0) % numPartitions;
  return p < 0 ? -p : p;
}

/** `count` ids `<prefix>-<random>` whose partitions cover every partition (round robin). */
export function idsCoveringPartitions(prefix, numPartitions, count = numPartitions) {
  const want = Array.from({ length: count }, (_, i) => i % numPartitions);
  const ids = [];
  for (const p of want) {
    for (;;) {
      const id = `${prefix}-${rid(4)}`;
      if (saramaPartition(id, numPartitions) === p && !ids.includes(id)) { ids.push(id); break; }
    }
  }
  return ids;
}
