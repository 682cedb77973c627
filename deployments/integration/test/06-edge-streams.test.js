// Messages for one socket go to the stream of the edge that holds it
// (realtime.fanout.edge.<edgeId>), not to the shared realtime.fanout that
// every edge reads; the shared stream still carries room messages. Checked
// on the real Redis, entry by entry.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { bringUp, guarded, BRING_UP_TIMEOUT } from './setup.js';
import { redisCommand, streamEnd, fanoutSince } from './cluster.js';
import { rid, pollUntil } from './helpers.js';

const SHARED = 'realtime.fanout';
const edgeStream = (edge) => `realtime.fanout.edge.${edge.env.INSTANCE_ID}`;
// FANOUT_EDGE_STREAM_TTL's default (pkg/bus).
const EDGE_STREAM_TTL_MS = 10 * 60 * 1000;

describe('distributed: messages for one socket on its edge\'s stream', () => {
  let cluster;
  let clients;
  const g = (fn) => guarded(() => cluster, fn);

  before(async () => {
    ({ cluster, clients } = await bringUp('edgestreams'));
    console.log(`cluster ${cluster.runId} ready in ${cluster.timings.readyMs} ms; logs ${cluster.logDir}`);
  }, { timeout: BRING_UP_TIMEOUT });

  after(async () => {
    clients?.closeAll();
    await cluster?.stop();
  }, { timeout: 120_000 });

  it('a join answer and a chat refusal are on the stream of the socket\'s edge only', { timeout: 60_000 }, g(async (t) => {
    const [A, B] = cluster.edges;
    const streams = { shared: SHARED, a: edgeStream(A), b: edgeStream(B) };
    const start = {};
    for (const [k, s] of Object.entries(streams)) start[k] = await streamEnd(s);
    const since = async (k) => (await fanoutSince(streams[k], start[k])).map((e) => e.msg);

    const videoId = `es-${rid()}`;
    const ca = await clients.connect([A.url], { userId: `ea-${rid(3)}`, failover: false });
    const cb = await clients.connect([B.url], { userId: `eb-${rid(3)}`, failover: false });
    assert.ok(ca.socket.id && cb.socket.id, 'socket ids');

    // A join on edge A: presence answers the joiner with the room's count.
    await ca.join('video:join', { videoId });
    await ca.waitEvent('video:viewers', (d) => d.videoId === videoId, 10_000, `video:viewers of ${videoId}`);
    const isAnswerTo = (c, event) => (m) => m.event === event && m.target.kind === 'socket'
      && m.target.socketId === c.socket.id && m.data?.videoId === videoId;
    // The client cannot tell the answer from the room's broadcast (same
    // payload), so the answer is awaited on the stream it must be on.
    const answer = await pollUntil(async () => (await since('a')).find(isAnswerTo(ca, 'video:viewers')),
      { timeout: 10_000, interval: 100, what: `the join answer on ${streams.a}` });
    assert.deepEqual(answer.target, { kind: 'socket', socketId: ca.socket.id, edgeId: A.env.INSTANCE_ID });
    // The room's count still goes to every edge.
    await pollUntil(async () => (await since('shared')).some((m) => m.target.kind === 'room' && m.target.room === `video:${videoId}`),
      { timeout: 10_000, interval: 100, what: `the count broadcast to video:${videoId} on ${SHARED}` });

    // A chat message that is empty once cleaned, from edge B: the chat
    // worker refuses it with an error event for that socket alone, which
    // only fan-out can bring.
    await cb.join('chat:join', { videoId });
    const ack = await cb.request('chat:message', { videoId, message: '\u0007' }, 10_000);
    assert.deepEqual(ack, { ok: true });
    const refusal = await cb.waitEvent('error', (d) => d.event === 'chat:message', 10_000, 'the refusal');
    assert.equal(refusal.message, 'Message is empty');
    const isRefusalTo = (c) => (m) => m.event === 'error' && m.target.kind === 'socket' && m.target.socketId === c.socket.id;
    const onB = (await since('b')).filter(isRefusalTo(cb));
    assert.equal(onB.length, 1, `one refusal on ${streams.b}`);
    assert.equal(onB[0].target.edgeId, B.env.INSTANCE_ID);
    // The chat:join answer went to B's stream too.
    assert.ok((await since('b')).some(isAnswerTo(cb, 'chat:user-count')), `chat:join answer on ${streams.b}`);

    // Nothing for one socket on the shared stream or on the other edge's.
    const shared = await since('shared');
    const leaked = shared.filter((m) => m.target.kind === 'socket' && [ca.socket.id, cb.socket.id].includes(m.target.socketId));
    assert.deepEqual(leaked, [], `socket-targeted messages on ${SHARED}`);
    assert.deepEqual((await since('a')).filter((m) => m.target.socketId === cb.socket.id), [], `B's socket on ${streams.a}`);
    assert.deepEqual((await since('b')).filter((m) => m.target.socketId === ca.socket.id), [], `A's socket on ${streams.b}`);
    assert.equal(ca.matching('error').length, 0, 'the client on A got no error');

    // Each edge's stream expires unless published to; the shared one does not.
    for (const k of ['a', 'b']) {
      const ttl = await redisCommand('PTTL', streams[k]);
      assert.ok(ttl > 0 && ttl <= EDGE_STREAM_TTL_MS, `PTTL ${streams[k]} = ${ttl}`);
    }
    assert.equal(await redisCommand('PTTL', SHARED), -1, `${SHARED} has no expiry`);
    const line = `edge streams: ${shared.length} shared entries during the test, none for one socket; ${streams.a} and ${streams.b} expire`;
    t.diagnostic(line);
    cluster.assertNoUnexpectedExit();
  }));
});
