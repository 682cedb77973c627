// The system under test in distributed mode: real Kafka and Redis (started
// by deployments/brokers.sh), and presence, two chat workers, notify and two
// edges as separate processes, each logging to its own file.
import { spawn, execFile } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, existsSync, readdirSync, statSync, rmSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel, AssignerProtocol } from 'kafkajs';
import { withTimeout, pollUntil, httpGet, freePort, rid, delay } from './helpers.js';

// deployments/integration/test/cluster.js -> the repository root is three levels up.
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const RUN_DIR = resolve(process.env.RUN_DIR || join(REPO_ROOT, '.run'));
// The same ports as deployments/ (KAFKA_PORT, REDIS_PORT), unless given outright.
export const KAFKA_BROKERS = process.env.KAFKA_BROKERS || `127.0.0.1:${process.env.KAFKA_PORT || 9092}`;
export const REDIS_ADDR = process.env.REDIS_ADDR || `127.0.0.1:${process.env.REDIS_PORT || 6379}`;
const TOPICS = ['realtime.sessions', 'realtime.video', 'realtime.chat', 'realtime.user', 'platform.events'];
export const JWT_SECRET = 'integration-secret-0123456789abcdef0123456789';
export const ADMIN_TOKEN = 'integration-admin-token';
export const EDGE_TTL_MS = 3000;
export const SERVICES = ['presence', 'chat', 'notify', 'edge'];

// ---------------------------------------------------------------------------
// Scripts of deployments/ (brokers)
// ---------------------------------------------------------------------------

/** Run a script of deployments/ (bounded); resolves with its output, rejects with it. */
export function runScript(rel, args = [], timeout = 120_000) {
  const file = join(REPO_ROOT, 'deployments', rel);
  return new Promise((res, rej) => {
    execFile(file, args, { cwd: REPO_ROOT, timeout, maxBuffer: 16 << 20, env: { ...process.env, RUN_DIR } }, (err, stdout, stderr) => {
      if (err) rej(new Error(`deployments/${rel} ${args.join(' ')} failed: ${err.message}\n${stdout}\n${stderr}`));
      else res(`${stdout}${stderr}`);
    });
  });
}

/** Idempotent: installs (first time) and starts Kafka and Redis, waits until both answer. */
export const brokersUp = () => runScript('brokers.sh', ['up'], 900_000);
export const stopKafka = () => runScript('kafka/stop.sh', [], 60_000);
export const startKafka = () => runScript('kafka/start.sh', [], 120_000);
export const stopRedis = () => runScript('redis/stop.sh', [], 30_000);
export const startRedis = () => runScript('redis/start.sh', [], 30_000);

/**
 * One Redis command through redis-cli on REDIS_ADDR, its reply parsed
 * (--json: stream entries hold binary metadata next to the JSON payload).
 */
export function redisCommand(...args) {
  const [host, port] = REDIS_ADDR.split(':');
  return new Promise((res, rej) => {
    execFile('redis-cli', ['-h', host, '-p', port, '--json', ...args.map(String)], { timeout: 10_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) return rej(new Error(`redis-cli ${args.join(' ')}: ${err.message}\n${stderr}`));
      try {
        res(JSON.parse(stdout));
      } catch (e) {
        rej(new Error(`redis-cli ${args.join(' ')}: cannot parse ${stdout.slice(0, 200)}: ${e.message}`));
      }
    });
  });
}

/** Id of the newest entry of a stream, or '0' if it has none. */
export async function streamEnd(stream) {
  const r = await redisCommand('XREVRANGE', stream, '+', '-', 'COUNT', 1);
  return r.length ? r[0][0] : '0';
}

/** Fan-out messages (decoded payloads) added to a stream after entry id `after`. */
export async function fanoutSince(stream, after) {
  const r = await redisCommand('XRANGE', stream, `(${after}`, '+');
  return r.map(([id, fields]) => {
    const i = fields.indexOf('payload');
    return { id, msg: JSON.parse(fields[i + 1]) };
  });
}

// ---------------------------------------------------------------------------
// Binaries
// ---------------------------------------------------------------------------

/**
 * Paths of the four binaries: $BIN_DIR/<name> when BIN_DIR is set, else
 * `go build -o $RUN_DIR/integration/bin/<name> ./services/<name>` (Go skips
 * the link when the binary there is up to date).
 */
export async function binaries() {
  if (process.env.BIN_DIR) {
    const dir = resolve(process.env.BIN_DIR);
    const out = Object.fromEntries(SERVICES.map((s) => [s, join(dir, s)]));
    for (const [s, p] of Object.entries(out)) {
      if (!existsSync(p)) throw new Error(`BIN_DIR=${dir} has no ${s} binary (build it with: go build -o ${p} ./services/${s})`);
    }
    return out;
  }
  const dir = join(RUN_DIR, 'integration', 'bin');
  mkdirSync(dir, { recursive: true });
  const out = {};
  await Promise.all(SERVICES.map((s) => new Promise((res, rej) => {
    out[s] = join(dir, s);
    execFile('go', ['build', '-o', out[s], `./services/${s}`], { cwd: REPO_ROOT, timeout: 600_000, maxBuffer: 16 << 20 }, (err, _o, stderr) => {
      if (err) rej(new Error(`go build ./services/${s} failed: ${err.message}\n${stderr}`));
      else res();
    });
  })));
  return out;
}

// ---------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------

const live = new Set();
process.on('exit', () => {
  // Last resort if the runner dies: the children run in their own process groups.
  for (const p of live) { try { process.kill(-p.child.pid, 'SIGKILL'); } catch { /* gone */ } }
});

/** One service process with its log file. */
export class Proc {
  constructor({ name, bin, env, logDir, port }) {
    Object.assign(this, { name, bin, env, port });
    this.logFile = join(logDir, `${name}.log`);
    this.exited = null;
    this.expectedExit = false;
  }

  start() {
    const log = createWriteStream(this.logFile, { flags: 'a' });
    this.log = log;
    const child = spawn(this.bin, [], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // its own process group: killed by -pid
    });
    this.child = child;
    this.pid = child.pid;
    this.exited = null;
    this.expectedExit = false;
    live.add(this);
    this.exitPromise = new Promise((res) => {
      child.once('exit', (code, signal) => {
        this.exited = { code, signal, at: Date.now() };
        live.delete(this);
        res(this.exited);
      });
    });
    child.stdout.pipe(log, { end: false });
    child.stderr.pipe(log, { end: false });
    if (process.env.INTEGRATION_VERBOSE) {
      child.stdout.pipe(process.stderr, { end: false });
      child.stderr.pipe(process.stderr, { end: false });
    }
    return this;
  }

  get alive() { return this.child && !this.exited; }

  /** kill -9 by PID, resolves once it has exited. */
  async kill9() {
    this.expectedExit = true;
    if (this.exited) return this.exited;
    process.kill(this.pid, 'SIGKILL');
    return withTimeout(this.exitPromise, 5000, `${this.name} (pid ${this.pid}) to die after SIGKILL`);
  }

  /** SIGTERM, then SIGKILL after `grace` ms; the whole process group. */
  async stop(grace = 5000) {
    this.expectedExit = true;
    if (this.child && !this.exited) {
      try { process.kill(-this.pid, 'SIGTERM'); } catch { /* gone */ }
      const r = await Promise.race([this.exitPromise, delay(grace).then(() => null)]);
      if (!r) {
        try { process.kill(-this.pid, 'SIGKILL'); } catch { /* gone */ }
        await withTimeout(this.exitPromise, 5000, `${this.name} (pid ${this.pid}) to exit after SIGKILL`);
      }
    }
    if (this.log) await new Promise((r) => this.log.end(r));
  }

  tail(lines = 40) {
    try {
      const all = readFileSync(this.logFile, 'utf8').split('\n');
      return all.slice(-lines - 1).join('\n');
    } catch (e) {
      return `(no log: ${e.message})`;
    }
  }
}

/** Keeps the newest `keep` log directories of earlier runs, removes the rest. */
function pruneLogs(dir, keep = 30) {
  try {
    const dirs = readdirSync(dir).map((d) => ({ d, t: statSync(join(dir, d)).mtimeMs })).sort((a, b) => b.t - a.t);
    for (const { d } of dirs.slice(keep)) rmSync(join(dir, d), { recursive: true, force: true });
  } catch { /* nothing to prune */ }
}

/**
 * presence, chat-1, chat-2, notify, edge-a, edge-b on the real brokers.
 * `name` makes the run id readable (log directory, consumer group prefix).
 */
export class Cluster {
  constructor(name, { chatWorkers = 2, edges = 2, env = {} } = {}) {
    this.runId = `it-${name}-${Date.now().toString(36)}-${rid(3)}`;
    pruneLogs(join(RUN_DIR, 'integration', 'logs'));
    this.logDir = join(RUN_DIR, 'integration', 'logs', this.runId);
    mkdirSync(this.logDir, { recursive: true });
    this.chatWorkers = chatWorkers;
    this.edgeCount = edges;
    this.extraEnv = env;
    this.procs = [];
    this.edges = [];
    this.kafka = new Kafka({ clientId: this.runId, brokers: KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING, retry: { retries: 3 } });
  }

  get groupPrefix() { return this.runId; }

  commonEnv(instance) {
    return {
      BUS: 'distributed',
      KAFKA_BROKERS,
      REDIS_ADDR,
      CONSUMER_GROUP_PREFIX: this.groupPrefix,
      INSTANCE_ID: `${this.runId}-${instance}`,
      LOG_LEVEL: process.env.INTEGRATION_LOG_LEVEL || 'info',
      EDGE_TTL: `${EDGE_TTL_MS}ms`,
      COUNT_INTERVAL: '100ms',
      PRESENCE_SWEEP_INTERVAL: '200ms',
      CHAT_RATE_PER_MIN: '100000',
      ...this.extraEnv,
    };
  }

  add(name, service, env = {}, port) {
    const p = new Proc({ name, bin: this.bins[service], env: { ...this.commonEnv(name), ...env }, logDir: this.logDir, port });
    this.procs.push(p);
    return p;
  }

  proc(name) { return this.procs.find((p) => p.name === name); }

  /** Build (or find) the binaries, start every process, wait for /health of the edges. */
  async start() {
    const t0 = Date.now();
    this.bins = await binaries();
    this.buildMs = Date.now() - t0;
    this.add('presence', 'presence').start();
    for (let i = 1; i <= this.chatWorkers; i++) this.add(`chat-${i}`, 'chat').start();
    this.add('notify', 'notify').start();
    for (let i = 0; i < this.edgeCount; i++) {
      const name = `edge-${'abcdefgh'[i]}`;
      const port = await freePort();
      const p = this.add(name, 'edge', {
        PORT: String(port),
        HOST: '127.0.0.1',
        JWT_SECRET,
        ADMIN_TOKEN,
        HEARTBEAT_INTERVAL: '1s',
        PING_INTERVAL: '1s',
        PING_TIMEOUT: '1s',
        SHUTDOWN_TIMEOUT: '2s',
      }, port).start();
      p.url = `http://127.0.0.1:${port}`;
      this.edges.push(p);
    }
    await Promise.all(this.edges.map((e) => this.waitHealthy(e, 30_000)));
    this.startMs = Date.now() - t0;
  }

  async waitHealthy(edge, timeout = 10_000) {
    await pollUntil(async () => {
      this.assertNoUnexpectedExit();
      const res = await httpGet(`${edge.url}/health`, 1000);
      await res.arrayBuffer();
      return res.status === 200;
    }, { timeout, interval: 100, what: `${edge.name} ${edge.url}/health to answer 200` });
  }

  /** Throws if a process died that no test killed. */
  assertNoUnexpectedExit() {
    const dead = this.procs.filter((p) => p.exited && !p.expectedExit);
    if (dead.length) {
      throw new Error(`process(es) exited unexpectedly: ${dead.map((p) => `${p.name} pid ${p.pid} ${JSON.stringify(p.exited)} (log ${p.logFile})`).join('; ')}`);
    }
  }

  /** Consumer groups of this run with their state and member count (kafkajs admin). */
  async groups() {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const { groups } = await admin.listGroups();
      const ours = groups.map((g) => g.groupId).filter((id) => id.startsWith(`${this.groupPrefix}.`));
      if (!ours.length) return [];
      const d = await admin.describeGroups(ours);
      return d.groups.map((g) => ({ groupId: g.groupId, state: g.state, members: g.members.length }));
    } finally {
      await admin.disconnect();
    }
  }

  /**
   * Active consumer groups of other deployments on the same topics. They
   * take part: the topics and the fan-out stream are not namespaced, and
   * chat's Redis keys neither, so another stack on these brokers handles our
   * events too (see README, "Other deployments on the same brokers").
   */
  async foreignGroups() {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const { groups } = await admin.listGroups();
      const others = groups.map((g) => g.groupId).filter((id) => !id.startsWith(`${this.groupPrefix}.`));
      if (!others.length) return [];
      const d = await admin.describeGroups(others);
      return d.groups.filter((g) => g.members.length > 0 && g.members.some((m) => {
        try {
          const topics = AssignerProtocol.MemberMetadata.decode(m.memberMetadata)?.topics ?? [];
          return topics.some((t) => TOPICS.includes(t));
        } catch {
          return false;
        }
      })).map((g) => `${g.groupId} (${g.members.length} member(s), ${g.state})`);
    } finally {
      await admin.disconnect();
    }
  }

  /** Members of one consumer group of this run with the partitions assigned to each: [{ memberId, clientHost, partitions: { topic: [..] } }]. */
  async assignments(group) {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const d = await admin.describeGroups([`${this.groupPrefix}.${group}`]);
      return d.groups[0].members.map((m) => ({
        memberId: m.memberId,
        clientHost: m.clientHost,
        partitions: m.memberAssignment?.length ? AssignerProtocol.MemberAssignment.decode(m.memberAssignment)?.assignment ?? {} : {},
      }));
    } finally {
      await admin.disconnect();
    }
  }

  /** Partition count of a topic. */
  async partitions(topic) {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const md = await admin.fetchTopicMetadata({ topics: [topic] });
      return md.topics[0].partitions.length;
    } finally {
      await admin.disconnect();
    }
  }

  /** Produce platform events straight to Kafka (key: videoId or userId). */
  async producePlatformEvents(events) {
    if (!this.producer) {
      this.producer = this.kafka.producer({ allowAutoTopicCreation: false });
      await this.producer.connect();
    }
    await this.producer.send({
      topic: 'platform.events',
      acks: -1,
      messages: events.map((e) => ({ key: e.videoId ?? e.userId ?? e.channelId, value: JSON.stringify(e) })),
    });
  }

  /** POST /internal/events on an edge; resolves with { status, body }. */
  async postPlatformEvent(edge, event, token = ADMIN_TOKEN) {
    const res = await fetch(`${edge.url}/internal/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(event),
      signal: AbortSignal.timeout(10_000),
    });
    return { status: res.status, body: await res.text() };
  }

  /** Every process's log tail, for failure reports. */
  tails(lines = 40) {
    return this.procs.map((p) => `----- ${p.name} (pid ${p.pid}, ${p.exited ? `exited ${JSON.stringify(p.exited)}` : 'running'}) ${p.logFile}\n${p.tail(lines)}`).join('\n');
  }

  /** Stop (SIGTERM, then SIGKILL) every process this cluster started, by PID. */
  async stop() {
    if (this.producer) { try { await this.producer.disconnect(); } catch { /* broker gone */ } }
    await Promise.all(this.procs.map((p) => p.stop(5000)));
  }
}
