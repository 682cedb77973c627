// Bringing a cluster up until end-to-end flows work, and failure reports
// with every process's log tail.
import { Cluster, brokersUp } from './cluster.js';
import { ClientSet } from './client.js';
import { pollUntil, rid } from './helpers.js';

/** Generous: the first `brokers.sh up` on a clean machine downloads Kafka. */
export const BRING_UP_TIMEOUT = 900_000;

/**
 * Brokers up (idempotent), the processes started, then ready: presence,
 * chat, notify and the fan-out answer on both edges, and every consumer
 * group of this run is Stable (the chat group with both workers in it).
 */
export async function bringUp(name, opts) {
  const t0 = Date.now();
  await brokersUp();
  const brokersMs = Date.now() - t0;
  const cluster = new Cluster(name, opts);
  const clients = new ClientSet();
  try {
    await cluster.start();
    await waitReady(cluster);
  } catch (e) {
    e.message += `\n${cluster.tails()}`;
    clients.closeAll();
    await cluster.stop();
    throw e;
  }
  cluster.timings = { brokersMs, buildMs: cluster.buildMs, readyMs: Date.now() - t0 };
  const foreign = await cluster.foreignGroups().catch((e) => [`(cannot list: ${e.message})`]);
  if (foreign.length) {
    console.log(`WARNING: other deployments consume the same Kafka topics (${foreign.join(', ')}); they handle this suite's events too and can make it fail (README: "Other deployments on the same brokers")`);
  }
  return { cluster, clients };
}

/** Runs end-to-end probes until every service answers; bounded. */
export async function waitReady(cluster, timeout = 60_000) {
  const deadline = Date.now() + timeout;
  const left = () => Math.max(1000, deadline - Date.now());
  const probes = new ClientSet();
  try {
    const vid = `ready-${rid()}`;
    const [ca, cb] = await Promise.all(cluster.edges.slice(0, 2).map((e, i) =>
      probes.connect([e.url], { userId: `ready-${i}-${rid(3)}`, failover: false })));
    // presence: a join on each edge is counted cluster-wide.
    await Promise.all([ca, cb].map((c) => c.join('video:join', { videoId: vid })));
    await Promise.all([ca, cb].map((c) => c.waitCount('video:viewers', vid, 2, left())));
    // chat + fan-out on both edges, both directions.
    await Promise.all([ca, cb].map((c) => c.join('chat:join', { videoId: vid })));
    for (const [from, to] of [[ca, cb], [cb, ca]]) {
      await pollUntil(async () => {
        const text = `ready ${rid()}`;
        const ack = await from.request('chat:message', { videoId: vid, message: text }, 5000).catch((e) => ({ error: e.message }));
        if (!ack?.ok) throw new Error(`chat:message ack ${JSON.stringify(ack)}`);
        await to.waitEvent('chat:message', (m) => m.message === text, 3000);
        return true;
      }, { timeout: left(), interval: 200, what: `a chat message from ${from.url} to reach ${to.url}` });
    }
    // notify: a platform event reaches viewers on both edges.
    await pollUntil(async () => {
      const commentId = `ready-${rid()}`;
      const r = await cluster.postPlatformEvent(cluster.edges[0], { type: 'comment.created', videoId: vid, commentId, timestamp: Date.now() });
      if (r.status !== 202) throw new Error(`POST /internal/events: ${r.status} ${r.body}`);
      await Promise.all([ca, cb].map((c) => c.waitEvent('video:comment', (d) => d.commentId === commentId, 3000)));
      return true;
    }, { timeout: left(), interval: 200, what: 'a platform event to reach viewers on both edges' });
    // consumer groups settled, every chat worker holds partitions.
    await pollUntil(async () => {
      const groups = await cluster.groups();
      cluster.groupInfo = groups;
      const stable = groups.length > 0 && groups.every((g) => g.state === 'Stable');
      const chatOk = cluster.chatWorkers < 2 || groups.some((g) => g.members === cluster.chatWorkers);
      if (!stable || !chatOk) throw new Error(`groups: ${JSON.stringify(groups)}`);
      return true;
    }, { timeout: left(), interval: 250, what: `consumer groups of ${cluster.groupPrefix} to be Stable with ${cluster.chatWorkers} chat members` });
    cluster.assertNoUnexpectedExit();
  } finally {
    probes.closeAll();
  }
}

/**
 * Wraps a test body: on failure the error message gets every process's
 * log tail (and the log directory), so a red run explains itself.
 */
export function guarded(getCluster, fn) {
  return async (t) => {
    try {
      await fn(t);
    } catch (e) {
      const c = getCluster();
      if (c) {
        const foreign = await c.foreignGroups().catch(() => []);
        if (foreign.length) e.message += `\nother deployments consuming the same topics right now: ${foreign.join(', ')}`;
        e.message += `\nlogs: ${c.logDir}\n${c.tails()}`;
      }
      throw e;
    }
  };
}
