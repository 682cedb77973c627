// kill -9 of one edge: its clients reconnect to the other edge by
// themselves, and the dead edge's sockets leave every count within EDGE_TTL.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { bringUp, guarded, BRING_UP_TIMEOUT } from './setup.js';
import { EDGE_TTL_MS } from './cluster.js';
import { rid, httpGet } from './helpers.js';

describe('distributed: kill -9 of an edge', () => {
  let cluster;
  let clients;
  const g = (fn) => guarded(() => cluster, fn);

  before(async () => {
    ({ cluster, clients } = await bringUp('edgekill'));
    console.log(`cluster ${cluster.runId} ready in ${cluster.timings.readyMs} ms; logs ${cluster.logDir}`);
  }, { timeout: BRING_UP_TIMEOUT });

  after(async () => {
    clients?.closeAll();
    await cluster?.stop();
  });

  it('clients of the dead edge reconnect to the other one; counts heal within EDGE_TTL', { timeout: 60_000 }, g(async (t) => {
    const [A, B] = cluster.edges;
    const videoId = `edgekill-${rid()}`;
    // observer on the edge that survives; on edge B a client that fails over
    // (knows both URLs) and one that simply goes away.
    const observer = await clients.connect([A.url, B.url], { userId: `obs-${rid(3)}` });
    const mover = await clients.connect([B.url, A.url], { userId: `mover-${rid(3)}` });
    const goner = await clients.connect([B.url], { userId: `goner-${rid(3)}`, failover: false });
    const all = [observer, mover, goner];
    for (const c of all) {
      await c.join('video:join', { videoId });
      await c.join('chat:join', { videoId });
    }
    await Promise.all(all.flatMap((c) => [
      c.waitCount('video:viewers', videoId, 3, 10_000),
      c.waitCount('chat:user-count', videoId, 3, 10_000),
    ]));

    const killedAt = Date.now();
    await B.kill9();
    t.diagnostic(`killed ${B.name} (pid ${B.pid}) with SIGKILL`);

    // The mover is back, on edge A, and has joined its rooms again.
    await mover.waitConnects(2, 10_000);
    const reconnectMs = Date.now() - killedAt;
    assert.equal(mover.url, A.url, 'the mover reconnected to the surviving edge');
    assert.ok(mover.socket.connected);

    // Counts heal: observer + mover (again, via edge A) = 2, once the dead
    // edge's lease expired and its sockets were dropped.
    await Promise.all([
      observer.waitCount('video:viewers', videoId, 2, EDGE_TTL_MS + 5000),
      observer.waitCount('chat:user-count', videoId, 2, EDGE_TTL_MS + 5000),
    ]);
    const healMs = Date.now() - killedAt;
    const seen = observer.matching('video:viewers', (d) => d.videoId === videoId).map((d) => d.count);
    t.diagnostic(`mover reconnected after ${reconnectMs} ms; counts healed after ${healMs} ms (EDGE_TTL ${EDGE_TTL_MS} ms); observer's viewer counts: [${seen.join(', ')}]`);
    console.log(`edge kill: reconnect ${reconnectMs} ms, counts healed ${healMs} ms after the kill (EDGE_TTL ${EDGE_TTL_MS} ms)`);
    assert.ok(healMs <= EDGE_TTL_MS + 2000, `counts healed ${healMs} ms after the kill, EDGE_TTL is ${EDGE_TTL_MS} ms`);
    await mover.waitCount('video:viewers', videoId, 2, 5000);

    // The mover takes part again: chat both ways and platform events.
    const m1 = `after failover ${rid()}`;
    assert.deepEqual(await observer.request('chat:message', { videoId, message: m1 }, 10_000), { ok: true });
    await mover.waitEvent('chat:message', (d) => d.message === m1, 10_000, 'chat from the observer');
    const m2 = `mover speaks ${rid()}`;
    assert.deepEqual(await mover.request('chat:message', { videoId, message: m2 }, 10_000), { ok: true });
    await observer.waitEvent('chat:message', (d) => d.message === m2, 10_000, 'chat from the mover');
    const commentId = `c-${rid()}`;
    const r = await cluster.postPlatformEvent(A, { type: 'comment.created', videoId, commentId, timestamp: Date.now() });
    assert.equal(r.status, 202, r.body);
    for (const c of [observer, mover]) await c.waitEvent('video:comment', (d) => d.commentId === commentId, 10_000, 'video:comment');

    // Still 2 (nothing re-counts the dead edge's sockets), the goner stays gone.
    assert.equal(observer.lastCount('video:viewers', videoId), 2);
    assert.equal(observer.lastCount('chat:user-count', videoId), 2);
    assert.equal(goner.socket.connected, false);
    const h = await httpGet(`${A.url}/health`);
    assert.equal(h.status, 200);
    cluster.assertNoUnexpectedExit();
  }));
});
