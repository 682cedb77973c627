// An application-like client on the official socket.io-client: it knows
// every edge URL and moves to the next one when its edge goes away, joins
// its rooms again after a reconnect (as an app would), and records every
// event it receives so tests can await them.
import { EventEmitter } from 'node:events';
import { Manager } from 'socket.io-client';
import { signJwtHS256, nowSec, waitFor } from './helpers.js';
import { JWT_SECRET } from './cluster.js';

export const tokenFor = (userId) => signJwtHS256({ sub: userId, iat: nowSec(), exp: nowSec() + 3600 }, JWT_SECRET);

export class AppClient {
  /**
   * urls: edge URLs, the first one is used first. failover: reconnect (to
   * the next URL on each attempt); false = a client that simply goes away.
   */
  constructor(urls, { userId, failover = true, name } = {}) {
    this.urls = urls;
    this.idx = 0;
    this.userId = userId;
    this.name = name ?? userId;
    this.joins = new Map(); // `${event} ${json}` -> [event, payload], replayed on reconnect
    this.received = new Map(); // event -> [{ data, at }]
    this.bus = new EventEmitter();
    this.bus.setMaxListeners(0);
    this.connects = 0;
    this.manager = new Manager(urls[0], {
      transports: ['websocket'],
      reconnection: failover,
      reconnectionDelay: 100,
      reconnectionDelayMax: 500,
      randomizationFactor: 0,
      timeout: 3000,
    });
    // Before every reconnection attempt: the next edge in the list.
    this.manager.on('reconnect_attempt', () => {
      this.idx = (this.idx + 1) % this.urls.length;
      this.manager.uri = this.urls[this.idx];
    });
    this.socket = this.manager.socket('/', { auth: userId ? { token: tokenFor(userId) } : {} });
    this.socket.on('connect', () => {
      this.connects++;
      this.bus.emit('connected', this.connects);
      if (this.connects > 1) {
        for (const [event, payload] of this.joins.values()) this.socket.emit(event, payload);
      }
    });
    this.socket.onAny((event, data) => {
      let list = this.received.get(event);
      if (!list) this.received.set(event, (list = []));
      list.push({ data, at: Date.now() });
      this.bus.emit(`ev:${event}`, data); // prefixed: a server `error` event must not be EventEmitter's 'error'
    });
  }

  /** URL of the edge the client is (or was last) connected to. */
  get url() { return this.manager.uri; }

  async connected(timeout = 5000) {
    if (this.socket.connected) return;
    await waitFor(this.socket, 'connect', { timeout, failOn: ['connect_error'] });
  }

  /** Resolves once the socket has connected `n` times in all (n = 2: the first reconnect). */
  waitConnects(n, timeout = 10_000) {
    if (this.connects >= n) return Promise.resolve(this.connects);
    return new Promise((res, rej) => {
      const on = (k) => {
        if (k < n) return;
        clearTimeout(timer);
        this.bus.off('connected', on);
        res(k);
      };
      const timer = setTimeout(() => {
        this.bus.off('connected', on);
        rej(new Error(`${this.name}: connected ${this.connects} time(s), not ${n}, within ${timeout} ms (url ${this.url})`));
      }, timeout);
      this.bus.on('connected', on);
    });
  }

  /** Emit with an ack; rejects after `timeout` ms without one. */
  request(event, payload, timeout = 5000) {
    return this.socket.timeout(timeout).emitWithAck(event, payload);
  }

  /** Join (video:join, chat:join, notifications:subscribe) and remember it for reconnects. */
  async join(event, payload, timeout = 5000) {
    this.joins.set(`${event} ${JSON.stringify(payload)}`, [event, payload]);
    const ack = await this.request(event, payload, timeout);
    if (!ack?.ok) throw new Error(`${this.name}: ${event} ${JSON.stringify(payload)} acked ${JSON.stringify(ack)}`);
    return ack;
  }

  async leave(event, payload, joinEvent, timeout = 5000) {
    this.joins.delete(`${joinEvent} ${JSON.stringify(payload)}`);
    const ack = await this.request(event, payload, timeout);
    if (!ack?.ok) throw new Error(`${this.name}: ${event} ${JSON.stringify(payload)} acked ${JSON.stringify(ack)}`);
    return ack;
  }

  events(event) { return this.received.get(event) ?? []; }

  /** Payloads of `event` that match `pred`. */
  matching(event, pred = () => true) { return this.events(event).map((e) => e.data).filter(pred); }

  /** Resolves with the first payload of `event` matching `pred` (already received or future). */
  waitEvent(event, pred = () => true, timeout = 5000, what) {
    const hit = this.events(event).find((e) => pred(e.data));
    if (hit) return Promise.resolve(hit.data);
    return new Promise((res, rej) => {
      const on = (data) => {
        if (!pred(data)) return;
        clearTimeout(timer);
        this.bus.off(`ev:${event}`, on);
        res(data);
      };
      const timer = setTimeout(() => {
        this.bus.off(`ev:${event}`, on);
        rej(new Error(`${this.name} (${this.url}): timed out after ${timeout} ms waiting for ${what ?? event}`));
      }, timeout);
      this.bus.on(`ev:${event}`, on);
    });
  }

  /** Latest count of a count event (video:viewers / chat:user-count) for a video, or undefined. */
  lastCount(event, videoId) {
    const l = this.matching(event, (d) => d.videoId === videoId);
    return l.length ? l[l.length - 1].count : undefined;
  }

  /** Resolves once the latest `event` count of `videoId` equals `n`. */
  waitCount(event, videoId, n, timeout = 5000) {
    if (this.lastCount(event, videoId) === n) return Promise.resolve(n);
    return new Promise((res, rej) => {
      const on = (d) => {
        if (d.videoId !== videoId || d.count !== n) return;
        clearTimeout(timer);
        this.bus.off(`ev:${event}`, on);
        res(n);
      };
      const timer = setTimeout(() => {
        this.bus.off(`ev:${event}`, on);
        const seen = this.matching(event, (d) => d.videoId === videoId).map((d) => d.count);
        rej(new Error(`${this.name} (${this.url}): timed out after ${timeout} ms waiting for ${event} ${videoId} = ${n}; counts seen: [${seen.join(', ')}]`));
      }, timeout);
      this.bus.on(`ev:${event}`, on);
    });
  }

  close() {
    this.manager.reconnection(false);
    this.socket.disconnect();
    this.manager.engine?.close();
  }
}

/** Tracks every client of a test so an after hook can close them. */
export class ClientSet {
  constructor() { this.all = new Set(); }

  async connect(urls, opts) {
    const c = new AppClient(urls, opts);
    this.all.add(c);
    await c.connected();
    return c;
  }

  closeAll() {
    for (const c of this.all) c.close();
    this.all.clear();
  }
}
