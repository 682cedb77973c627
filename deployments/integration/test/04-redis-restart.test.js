// Redis restarted while clients stay connected: fan-out resumes without
// restarting any of our processes.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { bringUp, guarded, BRING_UP_TIMEOUT } from './setup.js';
import { stopRedis, startRedis, brokersUp } from './cluster.js';
import { rid, pollUntil, httpGet } from './helpers.js';

describe('distributed: Redis restart', () => {
  let cluster;
  let clients;
  const g = (fn) => guarded(() => cluster, fn);

  before(async () => {
    ({ cluster, clients } = await bringUp('redisrestart'));
    console.log(`cluster ${cluster.runId} ready in ${cluster.timings.readyMs} ms; logs ${cluster.logDir}`);
  }, { timeout: BRING_UP_TIMEOUT });

  after(async () => {
    clients?.closeAll();
    await cluster?.stop();
    await brokersUp(); // leave the brokers running, whatever happened
  }, { timeout: 300_000 });

  it('fan-out resumes after Redis restarts, clients and processes untouched', { timeout: 90_000 }, g(async (t) => {
    const [A, B] = cluster.edges;
    const videoId = `redis-${rid()}`;
    const sender = await clients.connect([A.url], { userId: `s-${rid(3)}`, failover: false });
    const ra = await clients.connect([A.url], { userId: `ra-${rid(3)}`, failover: false });
    const rb = await clients.connect([B.url], { userId: `rb-${rid(3)}`, failover: false });
    for (const c of [sender, ra, rb]) {
      await c.join('video:join', { videoId });
      await c.join('chat:join', { videoId });
    }
    const baseline = `before ${rid()}`;
    assert.deepEqual(await sender.request('chat:message', { videoId, message: baseline }, 10_000), { ok: true });
    for (const r of [ra, rb]) await r.waitEvent('chat:message', (d) => d.message === baseline, 10_000, 'the baseline message');
    const pids = cluster.procs.map((p) => p.pid);

    const t0 = Date.now();
    await stopRedis();
    await startRedis();
    const restartedAt = Date.now();
    t.diagnostic(`Redis stopped and started again in ${restartedAt - t0} ms`);

    // Chat: keep sending (a message every 500 ms) until one sent after the
    // restart reaches both receivers.
    const chatAfter = pollUntil(async () => {
      const message = `after ${rid()}`;
      const ack = await sender.request('chat:message', { videoId, message }, 5000).catch((e) => ({ error: e.message }));
      if (!ack?.ok) throw new Error(`ack ${JSON.stringify(ack)}`);
      await Promise.all([ra, rb].map((r) => r.waitEvent('chat:message', (d) => d.message === message, 2000, `"${message}"`)));
      return Date.now() - restartedAt;
    }, { timeout: 20_000, interval: 500, what: 'a chat message sent after the Redis restart to reach both edges' });
    // Platform events: the same for a comment posted to edge B.
    const eventAfter = pollUntil(async () => {
      const commentId = `c-${rid()}`;
      const r = await cluster.postPlatformEvent(B, { type: 'comment.created', videoId, commentId, timestamp: Date.now() });
      if (r.status !== 202) throw new Error(`POST: ${r.status} ${r.body}`);
      await Promise.all([ra, rb].map((c) => c.waitEvent('video:comment', (d) => d.commentId === commentId, 2000, commentId)));
      return Date.now() - restartedAt;
    }, { timeout: 20_000, interval: 500, what: 'a platform event posted after the Redis restart to reach both edges' });
    const [chatMs, eventMs] = await Promise.all([chatAfter, eventAfter]);
    const line = `Redis restart: chat fan-out resumed ${chatMs} ms and platform events ${eventMs} ms after Redis was back`;
    t.diagnostic(line);
    console.log(line);

    // Presence's state survives the restart (Redis keeps an append-only
    // file): the 3 viewers are still counted.
    const late = await clients.connect([B.url], { userId: `late-${rid(3)}`, failover: false });
    await late.join('video:join', { videoId });
    const lateCount = await late.waitEvent('video:viewers', (d) => d.videoId === videoId, 5000).then((d) => d.count, (e) => e.message);
    t.diagnostic(`viewer count seen by a 4th viewer joining after the Redis restart: ${lateCount} (4 if presence state survived the restart)`);
    console.log(`Redis restart: a 4th viewer joining afterwards sees video:viewers ${lateCount} (4 if presence state survived)`);
    assert.equal(lateCount, 4, 'presence state lost in the Redis restart');

    // Same clients, same processes.
    for (const c of [sender, ra, rb]) assert.equal(c.connects, 1, `${c.name} never reconnected`);
    assert.deepEqual(cluster.procs.map((p) => p.pid), pids);
    cluster.assertNoUnexpectedExit();
    for (const e of [A, B]) assert.equal((await httpGet(`${e.url}/health`)).status, 200);
  }));
});
