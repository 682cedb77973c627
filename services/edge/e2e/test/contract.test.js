// The realtime event contract end to end (issue 3, "Done when"), against ONE edge in embedded mode
// (edge + presence + chat + notify on the in-memory bus), driven by the official socket.io-client.
//
// Every server→client event any client of this file receives is validated against its JSON Schema in
// contracts/schemas/server/ (ajv, draft 2020-12, $refs into contracts/schemas/defs/); an event that
// fails its schema, or whose name has no schema, fails the test that received it.
//
// "Reaches exactly the connections it should and no others" is asserted without sleeping: every
// client of a test joins that test's marker video; after the expected deliveries a platform
// `video.view` for the marker video is posted, and every client's events from before the action up
// to the marker must be exactly the expected ones (count updates of rooms the client itself joined
// are ignored: they are coalesced and may arrive at any time).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { io as ioClient } from 'socket.io-client';
import { resolveLauncher, startServer, waitFor, signJwt, nowSec } from './helpers.js';
import { contracts, checkServerEvent, Recorder } from './contracts.js';

const JWT_SECRET = 'contract-e2e-secret-0123456789abcdef';
const ADMIN_TOKEN = `admin-${randomBytes(8).toString('hex')}`;
const COUNT_INTERVAL_MS = 100;
const WAIT = 5000;
const SPEC_TRANSPORTS = ['websocket', 'polling']; // the spec's RealtimeService options
const RATE_LIMIT = { message: 'Rate limit exceeded', event: 'chat:message' };

let edge;

before(async () => {
  const launcher = await resolveLauncher('EDGE', './services/edge', 'edge');
  edge = await startServer(launcher, {
    env: {
      JWT_SECRET,
      ADMIN_TOKEN,
      COUNT_INTERVAL: `${COUNT_INTERVAL_MS}ms`,
      AUTH_REQUIRED: 'false',
      CHAT_RATE_PER_MIN: undefined, // the default (10, as in the spec) is what is under test
    },
    readyPath: '/health',
    name: 'edge-contract',
  });
}, { timeout: 660_000 });

after(async () => {
  await edge?.stop();
});

// ---------------------------------------------------------------------------
// ids, tokens, platform events
// ---------------------------------------------------------------------------

const RUN = randomBytes(3).toString('hex');
let seq = 0;
/** A fresh id (matches the contract's id pattern) so tests never share videos, users or channels. */
const uid = (prefix) => `${prefix}-${RUN}-${++seq}`;

const tokenFor = (userId) => signJwt({ sub: userId, iat: nowSec(), exp: nowSec() + 3600 }, { secret: JWT_SECRET });

/** POST one platform event to /internal/events; asserts the status, returns { status, body }. */
async function postEvent(event, { token = ADMIN_TOKEN, expect = 202, raw, headers = {} } = {}) {
  const res = await fetch(`${edge.url}/internal/events`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
      ...headers,
    },
    body: raw ?? JSON.stringify(event),
    signal: AbortSignal.timeout(WAIT),
  });
  const text = await res.text();
  let body;
  try { body = JSON.parse(text); } catch { body = text; }
  assert.equal(res.status, expect, `POST /internal/events ${raw ?? JSON.stringify(event)} -> ${res.status} ${text}`);
  return { status: res.status, body };
}

// ---------------------------------------------------------------------------
// Per-test context: clients (each with a contract-validating Recorder), marker, cleanup
// ---------------------------------------------------------------------------

class Ctx {
  constructor(title) {
    this.title = title;
    this.violations = [];
    this.recs = [];
    this.markerVideo = uid('marker');
    this.markerTs = Date.now();
  }

  /** Record (and validate) every event `socket` receives. */
  adopt(name, socket) {
    const r = new Recorder(name, socket, this.violations);
    this.recs.push(r);
    return r;
  }

  /**
   * A connected client with the spec's options (`auth: { token }`, `transports: ['websocket',
   * 'polling']`) plus forceNew (no Manager sharing between clients) and no reconnection (a dropped
   * connection must fail the test, not silently lose its rooms); `polling: true` for a
   * long-polling-only client. `user` null/undefined = anonymous. Joins the test's marker video.
   */
  async client(name, { user = null, polling = false, marker = true } = {}) {
    const token = user ? tokenFor(user) : undefined;
    const socket = ioClient(edge.url, {
      auth: { token },
      transports: polling ? ['polling'] : SPEC_TRANSPORTS,
      forceNew: true,
      reconnection: false,
      timeout: WAIT,
    });
    const r = this.adopt(`${name}${user ? ` [${user}]` : ' [anonymous]'}${polling ? ' (polling)' : ''}`, socket);
    r.user = user;
    await waitFor(socket, 'connect', { timeout: WAIT, failOn: ['connect_error'] });
    assert.equal(socket.io.engine.transport.name, polling ? 'polling' : 'websocket', `${r.name}: transport`);
    if (marker) await this.joinVideo(r, this.markerVideo);
    return r;
  }

  /** emitWithAck bounded by WAIT; resolves with the ack payload. */
  ack(r, event, ...args) {
    return r.socket.timeout(WAIT).emitWithAck(event, ...args);
  }

  async ackOk(r, event, payload) {
    const ack = await this.ack(r, event, payload);
    assert.deepStrictEqual(ack, { ok: true }, `${r.name}: ack of ${event} ${JSON.stringify(payload)}`);
  }

  /** video:join, acked { ok: true }; resolves with the count of the joiner's own video:viewers answer. */
  async joinVideo(r, videoId) {
    const from = r.mark();
    r.videos.add(videoId);
    await this.ackOk(r, 'video:join', { videoId });
    const { data } = await r.waitFor('video:viewers', (d) => d.videoId === videoId, { from, what: `video:viewers answer for ${videoId}` });
    return data.count;
  }

  /** chat:join, acked { ok: true }; resolves with the count of the joiner's own chat:user-count answer. */
  async joinChat(r, videoId) {
    const from = r.mark();
    r.chats.add(videoId);
    await this.ackOk(r, 'chat:join', { videoId });
    const { data } = await r.waitFor('chat:user-count', (d) => d.videoId === videoId, { from, what: `chat:user-count answer for ${videoId}` });
    return data.count;
  }

  live() { return this.recs.filter((r) => r.socket.connected && r.videos.has(this.markerVideo)); }

  /** Index of the next event of every live client. */
  marks() { return new Map(this.live().map((r) => [r, r.mark()])); }

  /** Post a marker (platform video.view of the marker video) and wait until every live client has it. */
  async marker() {
    const live = this.live();
    const ts = ++this.markerTs;
    await postEvent({ type: 'video.view', videoId: this.markerVideo, timestamp: ts });
    const at = new Map();
    await Promise.all(live.map(async (r) => {
      const { index } = await r.waitFor('video:view', (d) => d.videoId === this.markerVideo && d.timestamp === ts, { what: `marker video:view ${ts}` });
      at.set(r, index);
    }));
    return at;
  }

  /**
   * Assert that, from `marks` up to a fresh marker, every live client received exactly the
   * events listed for it in `expected` (Map<Recorder, Array<[event, payload]>>), in order, and
   * every other client nothing. Count updates of the client's own rooms are ignored.
   */
  async expectOnly(marks, expected = new Map()) {
    const at = await this.marker();
    for (const [r, from] of marks) {
      if (!at.has(r)) continue; // disconnected meanwhile (on purpose)
      const got = r.events.slice(from, at.get(r))
        .filter((e) => !r.isCountOfOwnRoom(e) && !(e.event === 'video:view' && e.data?.videoId === this.markerVideo))
        .map((e) => [e.event, e.data]);
      assert.deepStrictEqual(got, expected.get(r) ?? [], `${r.name}: events received up to the marker`);
    }
  }

  close() {
    for (const r of this.recs) r.socket.disconnect();
  }
}

/**
 * A test with its own Ctx; whatever happens, its clients are closed, and any contract violation
 * recorded by any of its clients fails it.
 */
async function runInCtx(name, fn, t) {
  const ctx = new Ctx(name);
  let failure;
  try {
    await fn(ctx, t);
  } catch (e) {
    failure = e;
  } finally {
    ctx.close();
  }
  if (ctx.violations.length) {
    const msg = `contract violations (${ctx.violations.length}):\n  ${ctx.violations.join('\n  ')}`;
    if (failure) failure.message += `\n${msg}`;
    else failure = new assert.AssertionError({ message: msg });
  }
  if (failure) throw failure;
}

function ctest(name, fn, opts = {}) {
  test(name, opts, (t) => runInCtx(name, fn, t));
}

/** Make `r` receive an EVENT packet as if the server had sent it (socket.io-client's own receive path). */
function inject(r, event, ...args) {
  r.socket.onpacket({ type: 2 /* EVENT */, nsp: '/', data: [event, ...args] });
}

const nearNow = (ts) => Number.isInteger(ts) && Math.abs(ts - Date.now()) < 60_000;
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

// ---------------------------------------------------------------------------
// The contract itself
// ---------------------------------------------------------------------------

describe('contract loading', () => {
  test('every schema file is registered by $id; every server→client event has a compiled schema', () => {
    assert.ok(contracts.files.length >= 40, `schema files found: ${contracts.files.length}`);
    assert.deepStrictEqual([...contracts.server.keys()].sort(), [
      'chat:message', 'chat:typing', 'chat:user-count', 'error', 'notification', 'notifications:read',
      'video:comment', 'video:like', 'video:sync', 'video:view', 'video:viewers',
    ]);
    for (const [event, validate] of contracts.server) {
      for (const ex of validate.schema.examples ?? []) assert.equal(checkServerEvent(event, [ex]), null, `${event} example ${JSON.stringify(ex)}`);
    }
  });

  test('the validator rejects a missing field, a mistyped field, an extra field, extra args and an unknown event name', () => {
    assert.equal(checkServerEvent('video:viewers', [{ videoId: '1', count: 2 }]), null);
    assert.match(checkServerEvent('video:viewers', [{ videoId: '1' }]), /count/);
    assert.match(checkServerEvent('video:viewers', [{ videoId: '1', count: '2' }]), /integer/);
    assert.match(checkServerEvent('video:viewers', [{ videoId: '1', count: 2, extra: true }]), /additional/);
    assert.match(checkServerEvent('video:viewers', [{ videoId: '', count: 2 }]), /videoId/); // $ref into defs/common.json
    assert.match(checkServerEvent('video:viewers', [{ videoId: '1', count: 2 }, 'more']), /2 arguments/);
    assert.match(checkServerEvent('chat:message', [{ id: '1', videoId: '1', userId: 'u', message: 'x', timestamp: 1.5 }]), /integer/);
    assert.match(checkServerEvent('video:unknown', [{}]), /no schema/);
  });
});

describe('harness self-checks', () => {
  test('a received event that fails its schema, or has no schema, fails the test', async () => {
    await assert.rejects(runInCtx('self-check', async (ctx) => {
      const r = await ctx.client('A', { user: uid('user') });
      inject(r, 'video:viewers', { videoId: r.user }); // count missing
      inject(r, 'video:sync', { videoId: r.user, timestamp: '45' }); // mistyped
      inject(r, 'video:rewind', { videoId: r.user }); // no schema
      await r.waitFor('video:rewind');
    }), (err) => {
      assert.match(err.message, /contract violations \(3\)/);
      assert.match(err.message, /video:viewers.*count/);
      assert.match(err.message, /video:sync.*number/);
      assert.match(err.message, /video:rewind.*no schema/);
      return true;
    });
  });

  test('expectOnly fails when a client got an event before the marker that it should not have', async () => {
    await assert.rejects(runInCtx('self-check', async (ctx) => {
      const a = await ctx.client('A', { user: uid('user') });
      const b = await ctx.client('B', { polling: true });
      const marks = ctx.marks();
      inject(b, 'video:sync', { videoId: 'v', timestamp: 1 });
      await ctx.expectOnly(marks, new Map([[a, []]]));
    }), (err) => {
      assert.ok(err instanceof assert.AssertionError, err.stack);
      assert.match(err.message, /B \[anonymous\] \(polling\): events received up to the marker/);
      assert.match(err.message, /video:sync/);
      return true;
    });
  });
});

// ---------------------------------------------------------------------------
// Presence: viewer and chatter counts
// ---------------------------------------------------------------------------

describe('presence', () => {
  ctest("video:viewers: two clients join video '123' and both see count 2; after one leaves / disconnects the other sees 1", async (ctx) => {
    const V = '123'; // the issue's video; no other test uses it
    const a = await ctx.client('A', { user: uid('user') });
    const b = await ctx.client('B', { polling: true });
    const outsider = await ctx.client('O, watching another video', { user: uid('user') });
    await ctx.joinVideo(outsider, uid('video'));
    const chatter = await ctx.client("C, in the chat of '123' only", { user: uid('user'), polling: true });
    await ctx.joinChat(chatter, V);
    const marks = ctx.marks();

    assert.equal(await ctx.joinVideo(a, V), 1, 'the first joiner is answered count 1 at once');
    let fromA = a.mark();
    assert.equal(await ctx.joinVideo(b, V), 2, 'the second joiner is answered count 2 at once');
    await a.waitFor('video:viewers', (d) => d.videoId === V && d.count === 2, { from: fromA, what: 'count 2 on A' });
    // Only the room's members got video:viewers for '123' (outsider and chatter nothing at all).
    await ctx.expectOnly(marks);

    // video:leave lowers the count
    fromA = a.mark();
    await ctx.ackOk(b, 'video:leave', { videoId: V });
    await a.waitFor('video:viewers', (d) => d.videoId === V && d.count === 1, { from: fromA, what: 'count 1 on A after B left' });

    // join again, then disconnect: lowers the count too
    fromA = a.mark();
    assert.equal(await ctx.joinVideo(b, V), 2);
    await a.waitFor('video:viewers', (d) => d.videoId === V && d.count === 2, { from: fromA, what: 'count 2 on A after B rejoined' });
    fromA = a.mark();
    b.socket.disconnect();
    await a.waitFor('video:viewers', (d) => d.videoId === V && d.count === 1, { from: fromA, what: 'count 1 on A after B disconnected' });

    // the count is really 1: a new joiner is answered 2
    const c = await ctx.client('C2', { user: uid('user') });
    assert.equal(await ctx.joinVideo(c, V), 2);
    for (const e of a.events.filter((x) => x.event === 'video:viewers' && x.data.videoId === V)) {
      assert.ok([1, 2].includes(e.data.count), `A only ever saw counts 1 and 2: ${a.describe()}`);
    }
  });

  ctest('chat:user-count: chat:join answers the joiner and updates the chat; chat:leave / disconnect lower it; video rooms are separate', async (ctx) => {
    const V = uid('video');
    const a = await ctx.client('A', { user: uid('user'), polling: true });
    const b = await ctx.client('B', { user: uid('user') });
    const anon = await ctx.client('R, anonymous reader');
    const viewer = await ctx.client('W, video room only', { user: uid('user') });
    await ctx.joinVideo(viewer, V);
    const marks = ctx.marks();

    assert.equal(await ctx.joinChat(a, V), 1);
    let fromA = a.mark();
    assert.equal(await ctx.joinChat(b, V), 2);
    assert.equal(await ctx.joinChat(anon, V), 3, 'anonymous readers count as chatters');
    await a.waitFor('chat:user-count', (d) => d.videoId === V && d.count === 3, { from: fromA, what: 'count 3 on A' });
    await b.waitFor('chat:user-count', (d) => d.videoId === V && d.count === 3, { what: 'count 3 on B' });
    // the video-room-only client got no chat:user-count, and its viewer count is not a chatter count
    await ctx.expectOnly(marks);
    assert.equal(viewer.find('chat:user-count'), -1);
    assert.equal(a.find('video:viewers', (d) => d.videoId === V), -1, 'chatters get no video:viewers of the video');

    fromA = a.mark();
    await ctx.ackOk(b, 'chat:leave', { videoId: V });
    await a.waitFor('chat:user-count', (d) => d.videoId === V && d.count === 2, { from: fromA, what: 'count 2 after chat:leave' });
    fromA = a.mark();
    anon.socket.disconnect();
    await a.waitFor('chat:user-count', (d) => d.videoId === V && d.count === 1, { from: fromA, what: 'count 1 after disconnect' });
    assert.equal(await ctx.joinChat(b, V), 2, 'rejoin is answered with the current count');
  });

  ctest(`count updates are coalesced (COUNT_INTERVAL ${COUNT_INTERVAL_MS}ms) and the final value is always sent`, async (ctx) => {
    const V = uid('video');
    const N = 8;
    const a = await ctx.client('A', { user: uid('user') });
    const others = await Promise.all(Array.from({ length: N }, (_, i) => ctx.client(`J${i}`, { user: uid('user'), polling: i % 2 === 1 })));
    assert.equal(await ctx.joinVideo(a, V), 1);

    const from = a.mark();
    const t0 = Date.now();
    await Promise.all(others.map((r) => ctx.joinVideo(r, V)));
    await a.waitFor('video:viewers', (d) => d.videoId === V && d.count === N + 1, { from, what: `count ${N + 1} on A` });
    const elapsed = Date.now() - t0;
    // (a broadcast of A's own join, count 1, may still arrive in this window: not one of the N joins)
    const seen = a.events.slice(from).filter((e) => e.event === 'video:viewers' && e.data.videoId === V && e.data.count > 1).map((e) => e.data.count);
    assert.ok(seen.length < N, `${N} joins gave A ${seen.length} updates (${seen}): not coalesced`);
    assert.ok(seen.length <= Math.floor(elapsed / COUNT_INTERVAL_MS) + 2, `A got ${seen.length} updates (${seen}) in ${elapsed} ms: more than one per ${COUNT_INTERVAL_MS} ms`);
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i] >= seen[i - 1], `counts only rise while clients join: ${seen}`);

    // everyone leaves at once: A ends at 1
    const from2 = a.mark();
    for (const r of others) r.socket.disconnect();
    await a.waitFor('video:viewers', (d) => d.videoId === V && d.count === 1, { from: from2, what: 'count back to 1 on A' });
    const seen2 = a.events.slice(from2).filter((e) => e.event === 'video:viewers' && e.data.videoId === V).map((e) => e.data.count);
    assert.ok(seen2.length < N, `${N} disconnects gave A ${seen2.length} updates (${seen2}): not coalesced`);
  });
});

// ---------------------------------------------------------------------------
// Chat
// ---------------------------------------------------------------------------

describe('chat', () => {
  ctest('chat:message reaches every chat member (and no one else) with id, videoId, userId, message, timestamp', async (ctx) => {
    const V = uid('video');
    const ua = uid('user');
    const a = await ctx.client('A', { user: ua });
    const b = await ctx.client('B', { user: uid('user'), polling: true });
    const reader = await ctx.client('R, anonymous reader');
    const a2 = await ctx.client("A2, A's other device, not in the chat", { user: ua, polling: true });
    const viewer = await ctx.client('W, video room only', { user: uid('user') });
    for (const r of [a, b, reader]) await ctx.joinChat(r, V);
    await ctx.joinVideo(a2, V);
    await ctx.joinVideo(viewer, V);

    let marks = ctx.marks();
    await ctx.ackOk(a, 'chat:message', { videoId: V, message: '  Hello\u0007 world!\u0000  ' });
    const got = await Promise.all([a, b, reader].map((r) => r.waitFor('chat:message', (d) => d.videoId === V, { from: marks.get(r) })));
    const msg = got[0].data;
    assert.deepStrictEqual(Object.keys(msg).sort(), ['id', 'message', 'timestamp', 'userId', 'videoId']);
    assert.equal(msg.videoId, V);
    assert.equal(msg.userId, ua, 'userId is the token subject');
    assert.equal(msg.message, 'Hello world!', 'control characters removed, trimmed');
    assert.ok(nearNow(msg.timestamp), `timestamp is server time in ms: ${msg.timestamp}`);
    for (const g of got) assert.deepStrictEqual(g.data, msg, 'every member gets the same message (same server id)');
    await ctx.expectOnly(marks, new Map([a, b, reader].map((r) => [r, [['chat:message', msg]]])));

    // from the polling member too, with no ack callback
    marks = ctx.marks();
    b.socket.emit('chat:message', { videoId: V, message: 'Hi A' });
    const { data: msg2 } = await a.waitFor('chat:message', (d) => d.message === 'Hi A', { from: marks.get(a) });
    assert.notEqual(msg2.id, msg.id, 'ids are unique');
    assert.equal(msg2.userId, b.user);
    await ctx.expectOnly(marks, new Map([a, b, reader].map((r) => [r, [['chat:message', msg2]]])));

    // after chat:leave, B no longer gets messages
    await ctx.ackOk(b, 'chat:leave', { videoId: V });
    marks = ctx.marks();
    await ctx.ackOk(a, 'chat:message', { videoId: V, message: 'B has left' });
    const { data: msg3 } = await reader.waitFor('chat:message', (d) => d.message === 'B has left', { from: marks.get(reader) });
    await ctx.expectOnly(marks, new Map([a, reader].map((r) => [r, [['chat:message', msg3]]])));
  });

  ctest('chat:message text: cleaned, 500 characters at most, empty refused; anonymous users may read but not post', async (ctx) => {
    const V = uid('video');
    const a = await ctx.client('A', { user: uid('user') });
    const b = await ctx.client('B', { user: uid('user'), polling: true });
    const anon = await ctx.client('N, anonymous', { polling: true });
    for (const r of [a, b, anon]) await ctx.joinChat(r, V);

    // exactly 500 characters after cleaning: accepted
    let marks = ctx.marks();
    const long = 'y'.repeat(500);
    await ctx.ackOk(a, 'chat:message', { videoId: V, message: `\t ${long}\u0000\u001f \n` });
    const { data: m500 } = await b.waitFor('chat:message', (d) => d.videoId === V, { from: marks.get(b) });
    assert.equal(m500.message, long);
    await ctx.expectOnly(marks, new Map([a, b, anon].map((r) => [r, [['chat:message', m500]]])));

    // control characters inside the text
    marks = ctx.marks();
    await ctx.ackOk(a, 'chat:message', { videoId: V, message: 'tab\there\u007f and\u0085 bell\u0007!' });
    const { data: mc } = await b.waitFor('chat:message', (d) => d.videoId === V, { from: marks.get(b) });
    assert.doesNotMatch(mc.message, CONTROL, `no control characters left: ${JSON.stringify(mc.message)}`);
    assert.equal(mc.message, mc.message.trim());
    assert.match(mc.message, /^tab\s*here\s*and\s*bell!$/);
    await ctx.expectOnly(marks, new Map([a, b, anon].map((r) => [r, [['chat:message', mc]]])));

    // refused by the chat worker: the sender gets error { message, event: 'chat:message' }, nobody gets a message
    for (const [what, message] of [['501 characters', 'x'.repeat(501)], ['only spaces', '     '], ['only control characters', '\u0001\u0002\u0003']]) {
      marks = ctx.marks();
      a.socket.emit('chat:message', { videoId: V, message });
      const { data: err } = await a.waitFor('error', (d) => d.event === 'chat:message', { from: marks.get(a), what: `error for ${what}` });
      assert.ok(err.message.length > 0);
      await ctx.expectOnly(marks, new Map([[a, [['error', err]]]]));
    }

    // anonymous: refused at once (ack { error } and error event), nothing delivered
    marks = ctx.marks();
    const ack = await ctx.ack(anon, 'chat:message', { videoId: V, message: 'may I?' });
    assert.equal(typeof ack?.error, 'string', `ack ${JSON.stringify(ack)}`);
    assert.ok(ack.error.length > 0);
    const { data: err } = await anon.waitFor('error', (d) => d.event === 'chat:message', { from: marks.get(anon) });
    assert.deepStrictEqual(err, { message: ack.error, event: 'chat:message' });
    anon.socket.emit('chat:message', { videoId: V, message: 'and without an ack?' });
    await anon.waitFor('error', (d) => d.event === 'chat:message', { from: anon.find('error', () => true, marks.get(anon)) + 1 });
    await ctx.expectOnly(marks, new Map([[anon, [['error', err], ['error', err]]]]));
  });

  ctest('chat:message order: every member sees the same order, and each sender\'s messages in send order', async (ctx) => {
    const V = uid('video');
    const a = await ctx.client('A', { user: uid('user') });
    const b = await ctx.client('B', { user: uid('user'), polling: true });
    const c = await ctx.client('C, reader', { polling: true });
    for (const r of [a, b, c]) await ctx.joinChat(r, V);
    const marks = ctx.marks();
    for (let i = 0; i < 5; i++) {
      a.socket.emit('chat:message', { videoId: V, message: `a${i}` });
      b.socket.emit('chat:message', { videoId: V, message: `b${i}` });
    }
    const lists = [];
    for (const r of [a, b, c]) {
      await r.waitFor('chat:message', (d) => d.message === 'a4', { from: marks.get(r) });
      await r.waitFor('chat:message', (d) => d.message === 'b4', { from: marks.get(r) });
      lists.push(r.events.slice(marks.get(r)).filter((e) => e.event === 'chat:message').map((e) => e.data));
    }
    for (const l of lists) {
      assert.equal(l.length, 10);
      assert.deepStrictEqual(l, lists[0], 'same order on every member');
    }
    const texts = lists[0].map((m) => m.message);
    assert.deepStrictEqual(texts.filter((t) => t[0] === 'a'), ['a0', 'a1', 'a2', 'a3', 'a4']);
    assert.deepStrictEqual(texts.filter((t) => t[0] === 'b'), ['b0', 'b1', 'b2', 'b3', 'b4']);
    await ctx.expectOnly(marks, new Map([a, b, c].map((r) => [r, lists[0].map((m) => ['chat:message', m])])));
  });

  ctest('chat:typing reaches the other chat members only, as { userId, isTyping, videoId }', async (ctx) => {
    const V = uid('video');
    const ua = uid('user');
    const a = await ctx.client('A, typing', { user: ua });
    const b = await ctx.client('B', { user: uid('user'), polling: true });
    const reader = await ctx.client('R, anonymous reader');
    const a2 = await ctx.client("A2, A's other device, not in the chat", { user: ua, polling: true });
    const a3 = await ctx.client("A3, A's other device, in the chat", { user: ua });
    const viewer = await ctx.client('W, video room only', { user: uid('user') });
    const elsewhere = await ctx.client('E, in another chat', { user: uid('user') });
    for (const r of [a, b, reader, a3]) await ctx.joinChat(r, V);
    await ctx.joinVideo(viewer, V);
    await ctx.joinVideo(a2, V);
    await ctx.joinChat(elsewhere, uid('video'));

    // "except the sender" is the sending connection: the user's other device in the chat is another member
    for (const isTyping of [true, false]) {
      const marks = ctx.marks();
      await ctx.ackOk(a, 'chat:typing', { videoId: V, isTyping });
      const want = { userId: ua, isTyping, videoId: V };
      await Promise.all([b, reader, a3].map((r) => r.waitFor('chat:typing', (d) => isDeepStrictEqual(d, want), { from: marks.get(r) })));
      await ctx.expectOnly(marks, new Map([b, reader, a3].map((r) => [r, [['chat:typing', want]]])));
    }

    // from the polling member, without ack
    const marks = ctx.marks();
    b.socket.emit('chat:typing', { videoId: V, isTyping: true });
    const want = { userId: b.user, isTyping: true, videoId: V };
    await Promise.all([a, reader, a3].map((r) => r.waitFor('chat:typing', (d) => isDeepStrictEqual(d, want), { from: marks.get(r) })));
    await ctx.expectOnly(marks, new Map([a, reader, a3].map((r) => [r, [['chat:typing', want]]])));

    // anonymous readers cannot type: refused to the sender only
    const marks2 = ctx.marks();
    const ack = await ctx.ack(reader, 'chat:typing', { videoId: V, isTyping: true });
    assert.equal(typeof ack?.error, 'string', `ack ${JSON.stringify(ack)}`);
    const { data: err } = await reader.waitFor('error', (d) => d.event === 'chat:typing', { from: marks2.get(reader) });
    await ctx.expectOnly(marks2, new Map([[reader, [['error', err]]]]));
  });

  /** Send messages 1..10 of user `label` (alternating over `conns`), each accepted and delivered to `obs`. */
  async function sendTen(ctx, V, obs, conns, label) {
    for (let i = 1; i <= 10; i++) {
      const r = conns[(i - 1) % conns.length];
      const from = obs.mark();
      await ctx.ackOk(r, 'chat:message', { videoId: V, message: `${label}-${i}` });
      await obs.waitFor('chat:message', (d) => d.message === `${label}-${i}` && d.userId === r.user, { from, what: `${label} message ${i}` });
    }
  }

  ctest('rate limit: the 11th message in a minute from one user is refused with the spec\'s error, whichever of the user\'s connections sends it', async (ctx) => {
    const V = uid('video');
    const obs = await ctx.client('observer', { user: uid('user'), polling: true });
    await ctx.joinChat(obs, V);

    // user R: two connections, 10 messages alternating; the 11th from the polling one, the 12th from the websocket one
    const ur = uid('limited');
    const r1 = await ctx.client('R1', { user: ur });
    const r2 = await ctx.client('R2', { user: ur, polling: true });
    await ctx.joinChat(r1, V);
    await sendTen(ctx, V, obs, [r1, r2], 'r');
    let marks = ctx.marks();
    const ack11 = await ctx.ack(r2, 'chat:message', { videoId: V, message: 'r-11' });
    await r2.waitFor('error', (d) => d.event === 'chat:message', { from: marks.get(r2), what: 'rate-limit error on R2' });
    const ack12 = await ctx.ack(r1, 'chat:message', { videoId: V, message: 'r-12' });
    await r1.waitFor('error', (d) => d.event === 'chat:message', { from: marks.get(r1), what: 'rate-limit error on R1' });
    // the refused messages reached nobody; each error went to the sending connection only
    await ctx.expectOnly(marks, new Map([[r2, [['error', RATE_LIMIT]]], [r1, [['error', RATE_LIMIT]]]]));
    // The limit is enforced by the chat worker after the edge has acked the event: the edge answers
    // { ok: true } ("accepted for processing") and the refusal arrives as the error event above.
    // { error: 'Rate limit exceeded' } would be accepted as well.
    for (const a of [ack11, ack12]) {
      assert.ok(isDeepStrictEqual(a, { ok: true }) || isDeepStrictEqual(a, { error: RATE_LIMIT.message }), `ack ${JSON.stringify(a)}`);
    }

    // user S: all 10 from one connection, the 11th from another one (never used before)
    const us = uid('limited');
    const s1 = await ctx.client('S1', { user: us, polling: true });
    const s2 = await ctx.client('S2', { user: us });
    await sendTen(ctx, V, obs, [s1], 's');
    marks = ctx.marks();
    s2.socket.emit('chat:message', { videoId: V, message: 's-11' });
    await s2.waitFor('error', (d) => d.event === 'chat:message', { from: marks.get(s2), what: 'rate-limit error on S2' });
    await ctx.expectOnly(marks, new Map([[s2, [['error', RATE_LIMIT]]]]));

    // the limit is per user: someone else still gets through; the limited connections stay connected
    marks = ctx.marks();
    await ctx.ackOk(obs, 'chat:message', { videoId: V, message: 'still open' });
    const { data: m } = await obs.waitFor('chat:message', (d) => d.message === 'still open', { from: marks.get(obs) });
    await ctx.expectOnly(marks, new Map([[obs, [['chat:message', m]]], [r1, [['chat:message', m]]]]));
    assert.ok(r1.socket.connected && r2.socket.connected && s1.socket.connected && s2.socket.connected);
  });
});

// ---------------------------------------------------------------------------
// Multi-device: playback sync and read receipts
// ---------------------------------------------------------------------------

describe('multi-device', () => {
  ctest("video:progress from one device arrives as video:sync on the same user's other devices and nowhere else", async (ctx) => {
    const V = uid('video');
    const up = uid('user');
    const p1 = await ctx.client('P1', { user: up });
    const p2 = await ctx.client('P2', { user: up, polling: true });
    const p3 = await ctx.client('P3, not watching the video', { user: up });
    const q = await ctx.client('Q, another user watching', { user: uid('user') });
    const anon = await ctx.client('N, anonymous watching', { polling: true });
    for (const r of [p1, p2, q, anon]) await ctx.joinVideo(r, V);

    let marks = ctx.marks();
    await ctx.ackOk(p1, 'video:progress', { videoId: V, timestamp: 45.5 });
    let want = { videoId: V, timestamp: 45.5 };
    await Promise.all([p2, p3].map((r) => r.waitFor('video:sync', (d) => isDeepStrictEqual(d, want), { from: marks.get(r) })));
    await ctx.expectOnly(marks, new Map([[p2, [['video:sync', want]]], [p3, [['video:sync', want]]]]));

    // from the polling device, no ack, an integral position
    marks = ctx.marks();
    p2.socket.emit('video:progress', { videoId: V, timestamp: 46 });
    want = { videoId: V, timestamp: 46 };
    await Promise.all([p1, p3].map((r) => r.waitFor('video:sync', (d) => isDeepStrictEqual(d, want), { from: marks.get(r) })));
    await ctx.expectOnly(marks, new Map([[p1, [['video:sync', want]]], [p3, [['video:sync', want]]]]));

    // an anonymous connection has no other devices: accepted, synced to no one
    marks = ctx.marks();
    await ctx.ackOk(anon, 'video:progress', { videoId: V, timestamp: 0 });
    await ctx.expectOnly(marks);
  });

  ctest("notifications:read from one device is told to the user's other devices only", async (ctx) => {
    const u = uid('user');
    const d1 = await ctx.client('D1', { user: u });
    const d2 = await ctx.client('D2', { user: u, polling: true });
    const d3 = await ctx.client('D3', { user: u });
    const x = await ctx.client('X, another user', { user: uid('user') });
    const anon = await ctx.client('N, anonymous', { polling: true });
    const n = uid('notif');
    let marks = ctx.marks();
    await ctx.ackOk(d1, 'notifications:read', { notificationId: n });
    let want = { notificationId: n };
    await Promise.all([d2, d3].map((r) => r.waitFor('notifications:read', (d) => isDeepStrictEqual(d, want), { from: marks.get(r) })));
    await ctx.expectOnly(marks, new Map([[d2, [['notifications:read', want]]], [d3, [['notifications:read', want]]]]));

    marks = ctx.marks();
    const n2 = uid('notif');
    d2.socket.emit('notifications:read', { notificationId: n2 });
    want = { notificationId: n2 };
    await Promise.all([d1, d3].map((r) => r.waitFor('notifications:read', (d) => isDeepStrictEqual(d, want), { from: marks.get(r) })));
    await ctx.expectOnly(marks, new Map([[d1, [['notifications:read', want]]], [d3, [['notifications:read', want]]]]));
    assert.ok(x && anon);
  });
});

// ---------------------------------------------------------------------------
// Platform events posted to /internal/events
// ---------------------------------------------------------------------------

describe('platform events (POST /internal/events)', () => {
  const VIDEO_EVENTS = [
    { type: 'video.view', event: 'video:view', body: (V, ts) => ({ type: 'video.view', videoId: V, timestamp: ts }), want: (V, ts) => ({ videoId: V, timestamp: ts }) },
    { type: 'video.like', event: 'video:like', body: (V, ts) => ({ type: 'video.like', videoId: V, userId: uid('user'), timestamp: ts }), want: (V, ts) => ({ videoId: V, type: 'video.like', timestamp: ts }) },
    { type: 'video.dislike', event: 'video:like', body: (V, ts) => ({ type: 'video.dislike', videoId: V, userId: uid('user'), timestamp: ts }), want: (V, ts) => ({ videoId: V, type: 'video.dislike', timestamp: ts }) },
    { type: 'comment.created', event: 'video:comment', body: (V, ts, c) => ({ type: 'comment.created', videoId: V, commentId: c, timestamp: ts }), want: (V, ts, c) => ({ videoId: V, commentId: c, timestamp: ts }) },
  ];

  for (const k of VIDEO_EVENTS) {
    ctest(`${k.type} → ${k.event} reaches exactly the video's viewers`, async (ctx) => {
      const V = uid('video');
      const a = await ctx.client('A, viewer', { user: uid('user') });
      const b = await ctx.client('B, anonymous viewer', { polling: true });
      const a2 = await ctx.client("A2, A's other device, not watching", { user: a.user });
      const chatter = await ctx.client('C, in the chat of the video only', { user: uid('user'), polling: true });
      const other = await ctx.client('D, watching another video', { user: uid('user') });
      const gone = await ctx.client('E, joined then left', { user: uid('user'), polling: true });
      for (const r of [a, b, gone]) await ctx.joinVideo(r, V);
      await ctx.joinChat(chatter, V);
      await ctx.joinVideo(other, uid('video'));
      await ctx.ackOk(gone, 'video:leave', { videoId: V });

      const marks = ctx.marks();
      const ts = Date.now();
      const commentId = uid('comment');
      const { body } = await postEvent(k.body(V, ts, commentId));
      assert.equal(body.ok, true);
      const want = k.want(V, ts, commentId);
      await Promise.all([a, b].map((r) => r.waitFor(k.event, (d) => isDeepStrictEqual(d, want), { from: marks.get(r) })));
      await ctx.expectOnly(marks, new Map([[a, [[k.event, want]]], [b, [[k.event, want]]]]));
      assert.ok(a2 && chatter && other);
    });
  }

  ctest('notification.created → notification on every connection of that user and no one else', async (ctx) => {
    const u = uid('user');
    const u1 = await ctx.client('U1', { user: u, marker: true });
    const u2 = await ctx.client('U2', { user: u, polling: true });
    const u3 = await ctx.client('U3, watching a video', { user: u });
    await ctx.joinVideo(u3, uid('video'));
    const x = await ctx.client('X, another user', { user: uid('user') });
    const anon = await ctx.client('N, anonymous', { polling: true });

    const marks = ctx.marks();
    const notification = { id: uid('notif'), type: 'comment_reply', title: 'Someone replied', message: 'Nice video!', timestamp: Date.now() };
    await postEvent({ type: 'notification.created', userId: u, notification, producer: 'extra fields are tolerated' });
    await Promise.all([u1, u2, u3].map((r) => r.waitFor('notification', (d) => d.id === notification.id, { from: marks.get(r) })));
    await ctx.expectOnly(marks, new Map([u1, u2, u3].map((r) => [r, [['notification', notification]]])));
    assert.ok(x && anon);
  });

  ctest('channel.video_published → notification { type: new_video, title: "New video from <channelName>" } on the subscribed connections only', async (ctx) => {
    const ch = uid('channel');
    const otherCh = uid('channel');
    const us = uid('user');
    const s1 = await ctx.client('S1, subscribed', { user: us });
    const s1b = await ctx.client("S1b, S1's user, this device not subscribed", { user: us, polling: true });
    const s2 = await ctx.client('S2, subscribed', { user: uid('user'), polling: true });
    const anon = await ctx.client('N, anonymous, subscribed');
    const unsub = await ctx.client('T, subscribed then unsubscribed', { user: uid('user') });
    const o = await ctx.client('O, subscribed to another channel', { user: uid('user'), polling: true });
    const x = await ctx.client('X, not subscribed', { user: uid('user') });
    for (const r of [s1, s2, anon, unsub]) await ctx.ackOk(r, 'notifications:subscribe', { channelId: ch });
    await ctx.ackOk(o, 'notifications:subscribe', { channelId: otherCh });
    await ctx.ackOk(unsub, 'notifications:unsubscribe', { channelId: ch });

    const marks = ctx.marks();
    const ts = Date.now();
    const channelName = 'Cooking with Go';
    await postEvent({ type: 'channel.video_published', channelId: ch, channelName, videoId: uid('video'), title: 'Pasta al dente', timestamp: ts });
    const got = await Promise.all([s1, s2, anon].map((r) => r.waitFor('notification', () => true, { from: marks.get(r) })));
    const n = got[0].data;
    assert.equal(n.type, 'new_video');
    assert.equal(n.title, `New video from ${channelName}`);
    assert.equal(typeof n.message, 'string');
    assert.equal(typeof n.id, 'string');
    assert.ok(Number.isInteger(n.timestamp) && n.timestamp >= ts && n.timestamp <= Date.now(), `timestamp ${n.timestamp}`);
    for (const g of got) assert.deepStrictEqual(g.data, n, 'the same notification on every subscriber');
    await ctx.expectOnly(marks, new Map([s1, s2, anon].map((r) => [r, [['notification', n]]])));
    assert.ok(s1b && x);
  });

  ctest('the endpoint: 401 without / with a wrong admin token, 400 with a reason for an invalid event; neither delivers anything', async (ctx) => {
    const V = uid('video');
    const a = await ctx.client('A, viewer', { user: uid('user') });
    const b = await ctx.client('B, viewer', { polling: true });
    await ctx.joinVideo(a, V);
    await ctx.joinVideo(b, V);
    const marks = ctx.marks();
    const good = { type: 'video.view', videoId: V, timestamp: Date.now() };
    await postEvent(good, { token: null, expect: 401 });
    await postEvent(good, { token: 'wrong', expect: 401 });
    await postEvent(good, { token: `${ADMIN_TOKEN}x`, expect: 401 });
    await postEvent(good, { token: null, headers: { authorization: ADMIN_TOKEN }, expect: 401 }); // no Bearer scheme
    for (const [what, ev, raw] of [
      ['missing timestamp', { type: 'video.view', videoId: V }],
      ['timestamp as a string', { type: 'video.view', videoId: V, timestamp: '1' }],
      ['unknown type', { type: 'video.teleported', videoId: V, timestamp: 1 }],
      ['no type', { videoId: V, timestamp: 1 }],
      ['notification without a title', { type: 'notification.created', userId: 'u', notification: { id: 'n', type: 't', message: 'm', timestamp: 1 } }],
      ['not JSON', null, '{"type":'],
      ['an array', [good]],
    ]) {
      const { body } = await postEvent(ev, { raw, expect: 400 });
      assert.equal(typeof body?.error, 'string', `${what}: 400 body has an error reason: ${JSON.stringify(body)}`);
      assert.ok(body.error.length > 0);
    }
    await ctx.expectOnly(marks);
  });
});

// ---------------------------------------------------------------------------
// Bad input
// ---------------------------------------------------------------------------

describe('bad input', () => {
  /** A valid payload of every client→server event (ids unique to the test). */
  const validPayloads = (videoId, channelId, notificationId) => ({
    'video:join': { videoId },
    'video:leave': { videoId },
    'video:progress': { videoId, timestamp: 12.5 },
    'chat:join': { videoId },
    'chat:leave': { videoId },
    'chat:message': { videoId, message: 'hi' },
    'chat:typing': { videoId, isTyping: true },
    'notifications:subscribe': { channelId },
    'notifications:unsubscribe': { channelId },
    'notifications:read': { notificationId },
  });

  /** [description, args] for every way of getting one event's payload wrong. */
  function badVariants(valid) {
    const out = [];
    for (const k of Object.keys(valid)) {
      const wrong = typeof valid[k] === 'string' ? 42 : typeof valid[k] === 'number' ? 'soon' : 'yes';
      out.push([`${k} of the wrong type`, [{ ...valid, [k]: wrong }]]);
      out.push([`${k} null`, [{ ...valid, [k]: null }]]);
      const { [k]: _omit, ...rest } = valid;
      out.push([`${k} missing`, [rest]]);
    }
    const idKey = Object.keys(valid)[0];
    out.push([`${idKey} empty`, [{ ...valid, [idKey]: '' }]]);
    out.push([`${idKey} with a space`, [{ ...valid, [idKey]: 'a b' }]]);
    out.push(['an extra field', [{ ...valid, extra: 1 }]]);
    out.push(['no payload', []]);
    out.push(['a string payload', ['v1']]);
    out.push(['a null payload', [null]]);
    out.push(['an array payload', [[valid]]]);
    out.push(['a number payload', [7]]);
    return out;
  }

  for (const polling of [false, true]) {
    ctest(`every client event with an invalid payload → error { message, event } and ack { error }; nothing crashes, nothing valid is dropped${polling ? ' (polling)' : ''}`, async (ctx) => {
      const u = uid('user');
      const s = await ctx.client('S, sending garbage', { user: u, polling });
      const twin = await ctx.client("S2, the same user's other device", { user: u, polling: !polling });
      const member = await ctx.client('M, chat member', { user: uid('user') });
      const V = uid('video');
      const VALID = validPayloads(uid('video'), uid('channel'), uid('notif'));
      await ctx.joinChat(member, V);
      const marks = ctx.marks();
      const expectedErrors = [];
      for (const [event, valid] of Object.entries(VALID)) {
        for (const [what, args] of badVariants(valid)) {
          const label = `${event} with ${what} ${JSON.stringify(args)}`;
          // with an ack: ack { error } and an error event
          let from = s.mark();
          const ack = await ctx.ack(s, event, ...args);
          assert.equal(typeof ack?.error, 'string', `${label}: ack ${JSON.stringify(ack)}`);
          assert.ok(ack.error.length > 0, `${label}: non-empty ack error`);
          assert.deepStrictEqual(Object.keys(ack), ['error'], `${label}: ack ${JSON.stringify(ack)}`);
          const { data: err } = await s.waitFor('error', () => true, { from, what: `error event for ${label}` });
          assert.deepStrictEqual(err, { message: ack.error, event }, label);
          expectedErrors.push(['error', err]);
          // without an ack: the error event alone
          from = s.mark();
          s.socket.emit(event, ...args);
          const { data: err2 } = await s.waitFor('error', () => true, { from, what: `error event (no ack) for ${label}` });
          assert.deepStrictEqual(err2, err, label);
          expectedErrors.push(['error', err2]);
        }
      }
      assert.ok(s.socket.connected, 'still connected');
      // no valid message is dropped: a valid chat message right after the garbage is delivered
      await ctx.joinChat(s, V);
      s.socket.emit('chat:message', { videoId: V, message: '{"oops": [1, 2]}' });
      s.socket.emit('chat:message', { videoId: V, message: 'valid after garbage' });
      const { data: m1 } = await member.waitFor('chat:message', (d) => d.message === '{"oops": [1, 2]}', { from: marks.get(member) });
      const { data: m2 } = await member.waitFor('chat:message', (d) => d.message === 'valid after garbage', { from: marks.get(member) });
      // only the sender got the errors; the errors and the two messages are all it got
      const msgs = [['chat:message', m1], ['chat:message', m2]];
      await ctx.expectOnly(marks, new Map([[s, [...expectedErrors, ...msgs]], [member, msgs]]));
      // and every event is still handled normally
      for (const [event, valid] of Object.entries(VALID)) await ctx.ackOk(s, event, { ...valid });
    });
  }

  ctest('unknown events → error { message, event } and ack { error }; the connection stays usable', async (ctx) => {
    const s = await ctx.client('S', { user: uid('user') });
    const p = await ctx.client('P', { polling: true });
    const marks = ctx.marks();
    const expected = new Map([[s, []], [p, []]]);
    for (const r of [s, p]) {
      for (const [event, args] of [['e2e:no-such-event', [{ x: 1 }]], ['video:JOIN', [{ videoId: 'v1' }]], ['chat:delete', [{ videoId: 'v1' }]], ['message', ['hello']], ['video:join:now', []]]) {
        let from = r.mark();
        const ack = await ctx.ack(r, event, ...args);
        assert.equal(typeof ack?.error, 'string', `${event}: ack ${JSON.stringify(ack)}`);
        const { data: err } = await r.waitFor('error', () => true, { from, what: `error for ${event}` });
        assert.equal(err.event, event);
        assert.ok(err.message.length > 0);
        from = r.mark();
        r.socket.emit(event, ...args);
        const { data: err2 } = await r.waitFor('error', () => true, { from, what: `error (no ack) for ${event}` });
        assert.deepStrictEqual(err2, err);
        expected.get(r).push(['error', err], ['error', err2]);
      }
    }
    await ctx.expectOnly(marks, expected);
    await ctx.joinVideo(s, uid('video'));
    await ctx.joinVideo(p, uid('video'));
  });
});

// ---------------------------------------------------------------------------
// The spec's client example
// ---------------------------------------------------------------------------

/**
 * The spec's RealtimeService (realtime-service.md, "React/TypeScript Example"), verbatim but for
 * the TypeScript type annotations. `io` is a parameter so the test can point the hard-coded
 * 'http://localhost:4100' at the edge under test; the class itself is unchanged.
 */
function defineRealtimeService(io) {
  class RealtimeService {
    socket;

    constructor(token) {
      this.socket = io('http://localhost:4100', {
        auth: { token },
        transports: ['websocket', 'polling']
      });

      this.socket.on('connect', () => {
        console.log('Connected to realtime service');
      });

      this.socket.on('disconnect', () => {
        console.log('Disconnected from realtime service');
      });
    }

    // Join video room
    joinVideo(videoId) {
      this.socket.emit('video:join', { videoId });
    }

    // Listen for live view updates
    onVideoView(callback) {
      this.socket.on('video:view', callback);
    }

    // Join chat
    joinChat(videoId) {
      this.socket.emit('chat:join', { videoId });
    }

    // Send chat message
    sendChatMessage(videoId, message) {
      this.socket.emit('chat:message', { videoId, message });
    }

    // Listen for chat messages
    onChatMessage(callback) {
      this.socket.on('chat:message', callback);
    }

    // Clean up
    disconnect() {
      this.socket.disconnect();
    }
  }
  return RealtimeService;
}

/** The body of the spec's VideoPlayer useEffect (setState calls aside); returns its cleanup. */
function videoPlayerEffect(RealtimeService, { videoId, token }) {
  const service = new RealtimeService(token);

  // Join video room
  service.joinVideo(videoId);

  // Listen for viewer count updates
  service.onVideoView((data) => {
    console.log('View update:', data);
  });

  // Cleanup
  return () => {
    service.disconnect();
  };
}

describe("the spec's client example", () => {
  /** `io` for the spec's class: same URL and options as in the spec, redirected to the edge under test (+ forceNew). */
  const specIo = (ctx) => {
    let n = 0;
    return (url, opts) => {
      assert.equal(url, 'http://localhost:4100');
      assert.deepStrictEqual(Object.keys(opts), ['auth', 'transports']);
      assert.deepStrictEqual(opts.transports, ['websocket', 'polling']);
      const socket = ioClient(edge.url, { ...opts, forceNew: true, reconnection: false, timeout: WAIT });
      const r = ctx.adopt(`RealtimeService#${++n}`, socket);
      r.user = opts.auth.token ? 'token' : null;
      return socket;
    };
  };

  ctest('VideoPlayer: joinVideo + onVideoView get live views; cleanup disconnects', async (ctx, t) => {
    const logs = t.mock.method(console, 'log', () => {});
    const RealtimeService = defineRealtimeService(specIo(ctx));
    const V = uid('video');
    const watcher = await ctx.client('another viewer', { user: uid('user') });
    await ctx.joinVideo(watcher, V);

    const unmountUser = videoPlayerEffect(RealtimeService, { videoId: V, token: tokenFor(uid('user')) });
    const player = ctx.recs.at(-1);
    const unmountAnon = videoPlayerEffect(RealtimeService, { videoId: V, token: undefined });
    const anonPlayer = ctx.recs.at(-1);
    for (const r of [player, anonPlayer]) {
      r.videos.add(V);
      await r.waitFor('video:viewers', (d) => d.videoId === V, { what: 'the join queued before connect was processed' });
      assert.equal(r.socket.io.engine.transport.name, 'websocket');
    }
    await watcher.waitFor('video:viewers', (d) => d.videoId === V && d.count === 3, { what: 'count 3 on the other viewer' });
    assert.equal(logs.mock.calls.filter((c) => c.arguments[0] === 'Connected to realtime service').length, 2);

    const ts = Date.now();
    await postEvent({ type: 'video.view', videoId: V, timestamp: ts });
    for (const r of [player, anonPlayer]) await r.waitFor('video:view', (d) => d.timestamp === ts);
    const updates = logs.mock.calls.filter((c) => c.arguments[0] === 'View update:').map((c) => c.arguments[1]);
    assert.deepStrictEqual(updates, [{ videoId: V, timestamp: ts }, { videoId: V, timestamp: ts }]);

    const from = watcher.mark();
    unmountUser();
    unmountAnon();
    assert.equal(logs.mock.calls.filter((c) => c.arguments[0] === 'Disconnected from realtime service').length, 2);
    await watcher.waitFor('video:viewers', (d) => d.videoId === V && d.count === 1, { from, what: 'count back to 1 after unmount' });
  });

  ctest('RealtimeService: joinChat + sendChatMessage + onChatMessage', async (ctx, t) => {
    t.mock.method(console, 'log', () => {});
    const RealtimeService = defineRealtimeService(specIo(ctx));
    const V = uid('video');
    const ua = uid('user');
    const alice = new RealtimeService(tokenFor(ua));
    const aliceRec = ctx.recs.at(-1);
    const bob = new RealtimeService(tokenFor(uid('user')));
    const bobRec = ctx.recs.at(-1);
    const guest = new RealtimeService(undefined);
    const guestRec = ctx.recs.at(-1);
    const received = { alice: [], bob: [], guest: [] };
    alice.onChatMessage((m) => received.alice.push(m));
    bob.onChatMessage((m) => received.bob.push(m));
    guest.onChatMessage((m) => received.guest.push(m));
    for (const s of [alice, bob, guest]) s.joinChat(V);
    for (const r of [aliceRec, bobRec, guestRec]) {
      r.chats.add(V);
      await r.waitFor('chat:user-count', (d) => d.videoId === V && d.count === 3, { what: 'all three in the chat' });
    }

    alice.sendChatMessage(V, 'Hello!');
    for (const r of [aliceRec, bobRec, guestRec]) await r.waitFor('chat:message', (d) => d.message === 'Hello!');
    const [m] = received.alice;
    assert.equal(m.userId, ua);
    assert.equal(m.videoId, V);
    assert.equal(m.message, 'Hello!');
    assert.ok(nearNow(m.timestamp));
    assert.deepStrictEqual(received, { alice: [m], bob: [m], guest: [m] });

    // the anonymous guest may read but not post: its message reaches no one, it gets an error event
    const from = guestRec.mark();
    guest.sendChatMessage(V, 'me too');
    await guestRec.waitFor('error', (d) => d.event === 'chat:message', { from });
    bob.sendChatMessage(V, 'Hi Alice');
    for (const r of [aliceRec, bobRec, guestRec]) await r.waitFor('chat:message', (d) => d.message === 'Hi Alice');
    assert.deepStrictEqual(received.guest.map((x) => x.message), ['Hello!', 'Hi Alice']);
    assert.deepStrictEqual(received.alice, received.guest);
    assert.deepStrictEqual(received.bob, received.guest);
    for (const s of [alice, bob, guest]) s.disconnect();
  });
});
