// kill -9 of a chat worker while messages flow: every message acknowledged
// to its sender is delivered (the other worker takes the partitions over).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { bringUp, guarded, BRING_UP_TIMEOUT } from './setup.js';
import { rid, delay, pollUntil, idsCoveringPartitions, saramaPartition } from './helpers.js';

describe('distributed: kill -9 of a chat worker', () => {
  let cluster;
  let clients;
  const g = (fn) => guarded(() => cluster, fn);

  before(async () => {
    ({ cluster, clients } = await bringUp('chatkill'));
    console.log(`cluster ${cluster.runId} ready in ${cluster.timings.readyMs} ms; groups ${JSON.stringify(cluster.groupInfo)}; logs ${cluster.logDir}`);
  }, { timeout: BRING_UP_TIMEOUT });

  after(async () => {
    clients?.closeAll();
    await cluster?.stop();
  });

  it('every message acknowledged to its sender is delivered to the other members', { timeout: 120_000 }, g(async (t) => {
    const [A, B] = cluster.edges;
    // Two videos per partition of realtime.chat (keyed by videoId), so both
    // workers own some of the traffic whichever one is killed.
    const partitions = await cluster.partitions('realtime.chat');
    const videos = idsCoveringPartitions('cwk', partitions, 2 * partitions);
    const sender = await clients.connect([A.url], { userId: `s-${rid(3)}`, failover: false });
    const ra = await clients.connect([A.url], { userId: `ra-${rid(3)}`, failover: false });
    const rb = await clients.connect([B.url], { userId: `rb-${rid(3)}`, failover: false });
    for (const c of [sender, ra, rb]) for (const videoId of videos) await c.join('chat:join', { videoId });

    const acked = new Map(videos.map((v) => [v, []])); // videoId -> texts acked {ok:true}, in send order
    const refused = [];
    const ackedAt = new Map(); // text -> when its ack came
    let stop = false;
    const loop = async (videoId) => {
      for (let i = 0; !stop; i++) {
        const message = `${videoId} #${i}`;
        let ack;
        try {
          ack = await sender.request('chat:message', { videoId, message }, 15_000);
        } catch (e) {
          ack = { error: `no ack: ${e.message}` };
        }
        if (ack?.ok === true) { acked.get(videoId).push(message); ackedAt.set(message, Date.now()); }
        else refused.push({ message, ack });
        await delay(10);
      }
    };
    const loops = Promise.all(videos.map(loop));
    const total = () => [...acked.values()].reduce((n, l) => n + l.length, 0);
    const victim = cluster.proc('chat-1');
    let before;
    let killedAt;
    try {
      await pollUntil(() => total() >= 10 * videos.length, { timeout: 20_000, what: 'messages to flow before the kill' });

      // Both workers hold partitions of realtime.chat, so the victim owns part of the traffic.
      const assigned = await cluster.assignments('chat');
      t.diagnostic(`chat group before the kill: ${JSON.stringify(assigned.map((m) => m.partitions))}`);
      assert.equal(assigned.length, 2, 'two members in the chat group');
      for (const m of assigned) assert.ok((m.partitions['realtime.chat'] ?? []).length > 0, `every chat worker owns partitions: ${JSON.stringify(assigned)}`);

      before = total();
      await victim.kill9();
      killedAt = Date.now();
      t.diagnostic(`killed ${victim.name} (pid ${victim.pid}) after ${before} acknowledged messages`);
      // Keep sending for a while after the kill (the dead worker's partitions
      // wait for the group to rebalance), then stop.
      await delay(3000);
    } finally {
      stop = true;
      await loops;
    }
    const sent = total();

    // Every acknowledged message reaches both receivers: wait, bounded.
    const missing = (r) => videos.flatMap((v) => {
      const got = new Set(r.matching('chat:message', (d) => d.videoId === v).map((d) => d.message));
      return acked.get(v).filter((m) => !got.has(m));
    });
    await pollUntil(() => missing(ra).length === 0 && missing(rb).length === 0, {
      timeout: 60_000,
      interval: 100,
      what: `every acknowledged message at both receivers (missing at ra: ${missing(ra).length}, rb: ${missing(rb).length})`,
    }).catch((e) => {
      const summary = (r) => videos.map((v) => {
        const got = new Set(r.matching('chat:message', (d) => d.videoId === v).map((d) => d.message));
        const miss = acked.get(v).filter((m) => !got.has(m));
        return `${v} (partition ${saramaPartition(v, partitions)}): acked ${acked.get(v).length}, received ${got.size}, missing ${miss.length}${miss.length ? ` from "${miss[0]}" to "${miss[miss.length - 1]}"` : ''}`;
      }).join('\n  ');
      e.message += `\nat ra:\n  ${summary(ra)}\nat rb:\n  ${summary(rb)}\nerror events at the sender: ${JSON.stringify(sender.matching('error').slice(0, 5))} (${sender.events('error').length})\nrefused: ${refused.length}`;
      throw e;
    });
    const deliveredMs = Date.now() - killedAt;
    // Longest wait between an ack and the delivery to rb: the takeover gap.
    const deliveredAt = new Map(rb.events('chat:message').map((e) => [e.data.message, e.at]));
    const maxGap = Math.max(...[...ackedAt].map(([m, at]) => deliveredAt.get(m) - at));

    // Exactly once and in per-video order, among the acknowledged ones.
    for (const r of [ra, rb]) {
      for (const v of videos) {
        const got = r.matching('chat:message', (d) => d.videoId === v).map((d) => d.message);
        const dups = got.filter((m, i) => got.indexOf(m) !== i);
        assert.deepEqual(dups, [], `${r.name}: no duplicates for ${v}`);
        const ackedSet = new Set(acked.get(v));
        assert.deepEqual(got.filter((m) => ackedSet.has(m)), acked.get(v), `${r.name}: ${v} in send order`);
      }
    }
    const line = `chat worker kill: ${sent} messages acknowledged (${before} before the kill), ${refused.length} refused, all acknowledged ones delivered ${deliveredMs} ms after the kill; longest ack->delivery wait ${maxGap} ms (the partitions' takeover)`;
    t.diagnostic(line);
    console.log(line);
    if (refused.length) t.diagnostic(`refused: ${JSON.stringify(refused.slice(0, 5))}`);
    assert.ok(sent > before, 'messages were acknowledged after the kill too');
    // The survivor is alive; nothing else died.
    assert.ok(cluster.proc('chat-2').alive, 'chat-2 still runs');
    cluster.assertNoUnexpectedExit();
  }));
});
