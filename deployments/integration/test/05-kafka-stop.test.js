// Kafka stopped: a sender gets a clear error in its ack, nothing crashes;
// after Kafka is back, traffic resumes.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { bringUp, guarded, BRING_UP_TIMEOUT } from './setup.js';
import { stopKafka, startKafka, brokersUp } from './cluster.js';
import { rid, pollUntil, httpGet } from './helpers.js';

describe('distributed: Kafka stopped and started again', () => {
  let cluster;
  let clients;
  const g = (fn) => guarded(() => cluster, fn);

  before(async () => {
    ({ cluster, clients } = await bringUp('kafkastop'));
    console.log(`cluster ${cluster.runId} ready in ${cluster.timings.readyMs} ms; logs ${cluster.logDir}`);
  }, { timeout: BRING_UP_TIMEOUT });

  after(async () => {
    clients?.closeAll();
    await cluster?.stop();
    await brokersUp(); // leave the brokers running, whatever happened
  }, { timeout: 300_000 });

  it('chat:message acks {error} while Kafka is down, edges stay healthy, traffic resumes after', { timeout: 180_000 }, g(async (t) => {
    const [A, B] = cluster.edges;
    const videoId = `kafka-${rid()}`;
    const sender = await clients.connect([A.url], { userId: `s-${rid(3)}`, failover: false });
    const rb = await clients.connect([B.url], { userId: `rb-${rid(3)}`, failover: false });
    for (const c of [sender, rb]) {
      await c.join('chat:join', { videoId });
      await c.join('video:join', { videoId });
    }
    await Promise.all([sender, rb].map((c) => c.waitCount('video:viewers', videoId, 2, 10_000)));
    const baseline = `before ${rid()}`;
    assert.deepEqual(await sender.request('chat:message', { videoId, message: baseline }, 10_000), { ok: true });
    await rb.waitEvent('chat:message', (d) => d.message === baseline, 10_000, 'the baseline message');

    let t0 = Date.now();
    await stopKafka();
    t.diagnostic(`Kafka stopped in ${Date.now() - t0} ms`);

    // A clear error, in bounded time.
    t0 = Date.now();
    const down = `while down ${rid()}`;
    const ack = await sender.request('chat:message', { videoId, message: down }, 20_000)
      .catch((e) => assert.fail(`no ack within 20 s while Kafka is down: ${e.message}`));
    const errMs = Date.now() - t0;
    t.diagnostic(`ack while Kafka is down after ${errMs} ms: ${JSON.stringify(ack)}`);
    console.log(`Kafka down: chat:message acked after ${errMs} ms with ${JSON.stringify(ack)}`);
    t.diagnostic(`error events at the sender so far: ${JSON.stringify(sender.matching('error'))}`);
    assert.equal(typeof ack?.error, 'string', `ack is {error: <message>}: ${JSON.stringify(ack)}`);
    assert.ok(ack.error.length > 0);
    assert.equal(ack.ok, undefined);
    assert.ok(errMs <= 11_000, `the error came after ${errMs} ms (more than ~10 s)`);

    // Nothing crashed; the edges answer /health.
    for (const e of [A, B]) assert.equal((await httpGet(`${e.url}/health`)).status, 200, `${e.name} /health while Kafka is down`);
    const postDown = await cluster.postPlatformEvent(A, { type: 'video.view', videoId, timestamp: Date.now() }).catch((e) => ({ status: 'no answer', body: e.message }));
    t.diagnostic(`POST /internal/events while Kafka is down: ${postDown.status} ${postDown.body}`);
    cluster.assertNoUnexpectedExit();
    assert.ok(sender.socket.connected && rb.socket.connected, 'clients stay connected');

    t0 = Date.now();
    await startKafka();
    const upAt = Date.now();
    t.diagnostic(`Kafka started again in ${upAt - t0} ms`);

    // Traffic resumes: a message gets {ok: true} and is delivered.
    const acked = [];
    const attempts = []; // [ms after Kafka was ready, outcome]
    const resumedMs = await pollUntil(async () => {
      const message = `after ${rid()}`;
      const a = await sender.request('chat:message', { videoId, message }, 15_000).catch((e) => ({ error: `no ack: ${e.message}` }));
      attempts.push([Date.now() - upAt, a?.ok ? 'ok' : JSON.stringify(a)]);
      if (!a?.ok) throw new Error(`ack ${JSON.stringify(a)}`);
      acked.push(message);
      await rb.waitEvent('chat:message', (d) => d.message === message, 5000, `"${message}"`);
      attempts.push([Date.now() - upAt, 'delivered']);
      return Date.now() - upAt;
    }, { timeout: 60_000, interval: 500, what: 'a chat message to be acknowledged and delivered after Kafka restarted' });
    // Every message acknowledged after the restart arrives, too.
    await pollUntil(() => acked.every((m) => rb.matching('chat:message', (d) => d.message === m).length === 1), {
      timeout: 30_000, what: `every acknowledged message delivered once (${acked.length})`,
    });
    t.diagnostic(`attempts after Kafka was ready (ms, outcome): ${JSON.stringify(attempts)}`);
    const line = `Kafka outage: error ack after ${errMs} ms; traffic resumed ${resumedMs} ms after Kafka was ready again`;
    t.diagnostic(line);
    console.log(line);
    // The two viewers that stayed connected through the outage are still
    // counted: no heartbeat got through, but presence does not take that
    // for the death of every edge (PRESENCE_EXPIRY_GUARD).
    const late = await clients.connect([B.url], { userId: `late-${rid(3)}`, failover: false });
    await late.join('video:join', { videoId });
    const lateCount = await late.waitEvent('video:viewers', (d) => d.videoId === videoId, 20_000).then((d) => d.count, (e) => e.message);
    const seen = rb.matching('video:viewers', (d) => d.videoId === videoId).map((d) => d.count);
    t.diagnostic(`after the outage a 3rd viewer sees video:viewers ${lateCount} (3 if the connected viewers are still counted); counts seen by a viewer throughout: [${seen.join(', ')}]`);
    console.log(`Kafka outage: a viewer joining afterwards sees video:viewers ${lateCount} (3 if the 2 viewers connected throughout are still counted)`);
    assert.equal(lateCount, 3, 'the viewers connected through the Kafka outage are no longer counted');

    for (const e of [A, B]) assert.equal((await httpGet(`${e.url}/health`)).status, 200);
    cluster.assertNoUnexpectedExit();
  }));
});
