// Clients spread across two edges: counts are cluster-wide, chat reaches
// every member exactly once in order, platform events (HTTP and Kafka)
// reach viewers on both edges; end-to-end chat latency is measured.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { bringUp, guarded, BRING_UP_TIMEOUT } from './setup.js';
import { rid, percentile } from './helpers.js';

describe('distributed: clients spread across two edges', () => {
  let cluster;
  let clients;
  let A;
  let B;
  const g = (fn) => guarded(() => cluster, fn);

  before(async () => {
    ({ cluster, clients } = await bringUp('spread'));
    [A, B] = cluster.edges;
    console.log(`cluster ${cluster.runId} ready in ${cluster.timings.readyMs} ms (brokers ${cluster.timings.brokersMs} ms, build ${cluster.timings.buildMs} ms); logs ${cluster.logDir}`);
  }, { timeout: BRING_UP_TIMEOUT });

  after(async () => {
    clients?.closeAll();
    await cluster?.stop();
  });

  it('viewer and chatter counts are cluster-wide', { timeout: 60_000 }, g(async () => {
    const videoId = `counts-${rid()}`;
    const c1 = await clients.connect([A.url], { userId: `u1-${rid(3)}`, failover: false });
    const c2 = await clients.connect([B.url], { userId: `u2-${rid(3)}`, failover: false });
    const c3 = await clients.connect([A.url], { userId: `u3-${rid(3)}`, failover: false });
    const all = [c1, c2, c3];
    for (const c of all) {
      await c.join('video:join', { videoId });
      await c.join('chat:join', { videoId });
    }
    await Promise.all(all.flatMap((c) => [
      c.waitCount('video:viewers', videoId, 3, 10_000),
      c.waitCount('chat:user-count', videoId, 3, 10_000),
    ]));

    // c3 leaves both rooms: the others (on both edges) see 2.
    await c3.leave('video:leave', { videoId }, 'video:join');
    await c3.leave('chat:leave', { videoId }, 'chat:join');
    await Promise.all([c1, c2].flatMap((c) => [
      c.waitCount('video:viewers', videoId, 2, 10_000),
      c.waitCount('chat:user-count', videoId, 2, 10_000),
    ]));

    // c2 (edge B) disconnects: its session closes, c1 on edge A sees 1.
    c2.close();
    await c1.waitCount('video:viewers', videoId, 1, 10_000);
    await c1.waitCount('chat:user-count', videoId, 1, 10_000);
  }));

  it('a chat message reaches every member on both edges exactly once, in order', { timeout: 60_000 }, g(async () => {
    const videoId = `order-${rid()}`;
    const sender = await clients.connect([A.url], { userId: `sender-${rid(3)}`, failover: false });
    const members = [
      sender,
      await clients.connect([A.url], { userId: `ma-${rid(3)}`, failover: false }),
      await clients.connect([B.url], { userId: `mb1-${rid(3)}`, failover: false }),
      await clients.connect([B.url], { userId: `mb2-${rid(3)}`, failover: false }),
    ];
    for (const m of members) await m.join('chat:join', { videoId });

    const N = 50;
    const texts = Array.from({ length: N }, (_, i) => `msg ${i} ${rid(2)}`);
    for (const message of texts) {
      const ack = await sender.request('chat:message', { videoId, message }, 10_000);
      assert.deepEqual(ack, { ok: true }, `ack of "${message}"`);
    }
    // A last message marks the end: per-video order puts it after every other
    // one (and after any duplicate of them).
    const sentinel = `end ${rid()}`;
    assert.deepEqual(await sender.request('chat:message', { videoId, message: sentinel }, 10_000), { ok: true });

    for (const m of members) {
      await m.waitEvent('chat:message', (d) => d.videoId === videoId && d.message === sentinel, 15_000, `the last message at ${m.name}`);
      const got = m.matching('chat:message', (d) => d.videoId === videoId);
      assert.deepEqual(got.map((d) => d.message), [...texts, sentinel], `${m.name} (${m.url}) got every message once, in order`);
      assert.equal(new Set(got.map((d) => d.id)).size, got.length, `${m.name}: message ids are unique`);
      for (const d of got) {
        assert.equal(d.userId, sender.userId);
        assert.equal(typeof d.timestamp, 'number');
      }
    }
    // Every member saw the same ids in the same order.
    const ids = members.map((m) => m.matching('chat:message', (d) => d.videoId === videoId).map((d) => d.id).join(','));
    assert.equal(new Set(ids).size, 1, 'the same message ids everywhere');
  }));

  it('platform events posted to /internal/events on one edge reach viewers on both edges', { timeout: 60_000 }, g(async () => {
    const videoId = `http-${rid()}`;
    const va = await clients.connect([A.url], { userId: `va-${rid(3)}`, failover: false });
    const vb = await clients.connect([B.url], { userId: `vb-${rid(3)}`, failover: false });
    for (const v of [va, vb]) await v.join('video:join', { videoId });

    const commentId = `c-http-${rid()}`;
    const ts = Date.now();
    const r1 = await cluster.postPlatformEvent(A, { type: 'comment.created', videoId, commentId, timestamp: ts });
    assert.equal(r1.status, 202, `POST comment.created: ${r1.body}`);
    const r2 = await cluster.postPlatformEvent(A, { type: 'video.like', videoId, userId: 'liker-1', timestamp: ts + 1 });
    assert.equal(r2.status, 202, `POST video.like: ${r2.body}`);
    for (const v of [va, vb]) {
      const c = await v.waitEvent('video:comment', (d) => d.commentId === commentId, 10_000, `video:comment ${commentId}`);
      assert.deepEqual(c, { videoId, commentId, timestamp: ts });
      const l = await v.waitEvent('video:like', (d) => d.videoId === videoId && d.timestamp === ts + 1, 10_000, 'video:like');
      assert.deepEqual(l, { videoId, type: 'video.like', timestamp: ts + 1 });
    }
    // A wrong token is refused.
    const bad = await cluster.postPlatformEvent(B, { type: 'video.view', videoId, timestamp: ts }, 'wrong-token');
    assert.equal(bad.status, 401);
  }));

  it('platform events produced straight to Kafka platform.events reach viewers on both edges', { timeout: 60_000 }, g(async () => {
    const videoId = `kafka-${rid()}`;
    const userId = `kuser-${rid(3)}`;
    const va = await clients.connect([A.url], { userId, failover: false });
    const vb = await clients.connect([B.url], { userId, failover: false }); // same user, second device
    for (const v of [va, vb]) await v.join('video:join', { videoId });

    const ts = Date.now();
    const commentId = `c-kafka-${rid()}`;
    const notificationId = `n-kafka-${rid()}`;
    const notification = { id: notificationId, type: 'system', title: 'Hello', message: 'from kafka', timestamp: ts };
    await cluster.producePlatformEvents([
      { type: 'comment.created', videoId, commentId, timestamp: ts },
      { type: 'video.view', videoId, timestamp: ts + 2 },
      { type: 'notification.created', userId, notification },
    ]);
    for (const v of [va, vb]) {
      assert.deepEqual(await v.waitEvent('video:comment', (d) => d.commentId === commentId, 15_000, `video:comment ${commentId}`),
        { videoId, commentId, timestamp: ts });
      assert.deepEqual(await v.waitEvent('video:view', (d) => d.videoId === videoId && d.timestamp === ts + 2, 15_000, 'video:view'),
        { videoId, timestamp: ts + 2 });
      assert.deepEqual(await v.waitEvent('notification', (d) => d.id === notificationId, 15_000, `notification ${notificationId}`),
        notification);
    }
  }));

  it('measures end-to-end chat latency (send on edge A -> receive on edge B)', { timeout: 120_000 }, g(async (t) => {
    const videoId = `latency-${rid()}`;
    const sender = await clients.connect([A.url], { userId: `ls-${rid(3)}`, failover: false });
    const receiver = await clients.connect([B.url], { userId: `lr-${rid(3)}`, failover: false });
    for (const c of [sender, receiver]) await c.join('chat:join', { videoId });

    const once = async (message) => {
      const t0 = performance.now();
      const got = receiver.waitEvent('chat:message', (d) => d.videoId === videoId && d.message === message, 10_000, `"${message}"`)
        .then(() => performance.now() - t0);
      const ack = await sender.request('chat:message', { videoId, message }, 10_000);
      const ackMs = performance.now() - t0;
      assert.deepEqual(ack, { ok: true });
      return { e2e: await got, ack: ackMs };
    };
    for (let i = 0; i < 10; i++) await once(`warmup ${i}`);
    const N = 200;
    const e2e = [];
    const acks = [];
    for (let i = 0; i < N; i++) {
      const r = await once(`lat ${i}`);
      e2e.push(r.e2e);
      acks.push(r.ack);
    }
    const f = (x) => x.toFixed(1);
    const line = `chat latency client send (edge A) -> other client receive (edge B) through Kafka and Redis, n=${N} sequential: ` +
      `p50 ${f(percentile(e2e, 50))} ms, p99 ${f(percentile(e2e, 99))} ms, max ${f(Math.max(...e2e))} ms; ` +
      `sender ack (Kafka acked) p50 ${f(percentile(acks, 50))} ms, p99 ${f(percentile(acks, 99))} ms`;
    t.diagnostic(line);
    console.log(line);
  }));
});
