// The event contract (contracts/schemas, JSON Schema draft 2020-12) loaded into ajv,
// and a recorder that validates every server→client event a test client receives.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, basename, sep } from 'node:path';
import Ajv2020 from 'ajv/dist/2020.js';
import { REPO_ROOT } from './helpers.js';

export const SCHEMA_DIR = join(REPO_ROOT, 'contracts', 'schemas');

function jsonFiles(dir) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...jsonFiles(p));
    else if (e.name.endsWith('.json')) out.push(p);
  }
  return out.sort();
}

/**
 * Register every schema file (messages and defs) with ajv by its $id, so the
 * relative $refs between them resolve, then compile the server→client ones.
 * Returns { ajv, files: [{ rel, id }], server: Map<eventName, validateFn> }.
 * Socket.IO event names spell their first ':' as '-' in file names
 * (server/video-viewers.json ↔ video:viewers, server/chat-user-count.json ↔ chat:user-count).
 */
export function loadContracts() {
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  const files = [];
  for (const path of jsonFiles(SCHEMA_DIR)) {
    const schema = JSON.parse(readFileSync(path, 'utf8'));
    const rel = relative(SCHEMA_DIR, path).split(sep).join('/');
    assert.equal(typeof schema.$id, 'string', `${rel} has an $id`);
    ajv.addSchema(schema);
    files.push({ rel, id: schema.$id, schema });
  }
  const server = new Map();
  for (const { rel, id } of files) {
    if (!rel.startsWith('server/')) continue;
    const event = basename(rel, '.json').replace('-', ':');
    const validate = ajv.getSchema(id); // compiles, resolving $refs into defs/
    assert.ok(validate, `schema ${id} compiles`);
    server.set(event, validate);
  }
  return { ajv, files, server };
}

export const contracts = loadContracts();

/**
 * Check one received server→client event against the contract. Returns null when
 * it conforms, else a description of the violation: an event name with no schema,
 * not exactly one argument, or a payload that fails its schema.
 */
export function checkServerEvent(event, args) {
  const validate = contracts.server.get(event);
  if (!validate) return `event '${event}' has no schema in contracts/schemas/server/ (payload ${JSON.stringify(args)})`;
  if (args.length !== 1) return `event '${event}' carries ${args.length} arguments, the contract has exactly one payload: ${JSON.stringify(args)}`;
  if (!validate(args[0])) {
    return `event '${event}' payload ${JSON.stringify(args[0])} fails ${validate.schema.$id}: ${contracts.ajv.errorsText(validate.errors)}`;
  }
  return null;
}

/**
 * Records every event a socket receives (onAny, attached before connecting so
 * nothing is missed) and validates each against the contract; violations go to
 * the shared `violations` array. Waits scan the recorded list from an index, so
 * an event that arrived before the wait started is still found (no races).
 */
export class Recorder {
  constructor(name, socket, violations) {
    this.name = name;
    this.socket = socket;
    this.events = []; // { event, data, args, at }
    this.videos = new Set(); // video rooms joined (their video:viewers may arrive at any time)
    this.chats = new Set(); // chats joined (their chat:user-count may arrive at any time)
    this.waiters = new Set();
    socket.onAny((event, ...args) => {
      const problem = checkServerEvent(event, args);
      if (problem) violations.push(`${name}: ${problem}`);
      this.events.push({ event, data: args[0], args, at: Date.now() });
      for (const w of [...this.waiters]) w();
    });
  }

  /** Index of the next event to arrive: pass as `from` to a wait, or to slice(). */
  mark() { return this.events.length; }

  /** First index >= from of an event named `event` whose payload satisfies `pred`, or -1. */
  find(event, pred = () => true, from = 0) {
    for (let i = from; i < this.events.length; i++) {
      const e = this.events[i];
      if (e.event === event && pred(e.data)) return i;
    }
    return -1;
  }

  /**
   * Resolve with { data, index } of the first event named `event` at index >= from
   * whose payload satisfies pred (already received or still to come); reject after
   * `timeout` ms or when the socket disconnects first.
   */
  waitFor(event, pred = () => true, { from = 0, timeout = 5000, what } = {}) {
    const label = what ?? `'${event}'`;
    return new Promise((resolve, reject) => {
      let timer;
      const finish = (fn, v) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        this.socket.off('disconnect', onDisc);
        fn(v);
      };
      const check = () => {
        const i = this.find(event, pred, from);
        if (i >= 0) finish(resolve, { data: this.events[i].data, index: i });
      };
      const onDisc = (reason) => finish(reject, new Error(`${this.name} disconnected (${reason}) while waiting for ${label}; received: ${this.describe(from)}`));
      timer = setTimeout(() => finish(reject, new Error(`${this.name}: timed out after ${timeout} ms waiting for ${label}; received since #${from}: ${this.describe(from)}`)), timeout);
      this.waiters.add(check);
      this.socket.on('disconnect', onDisc);
      check();
    });
  }

  /** Is this a count update of a room this client joined (sent at any time, coalesced)? */
  isCountOfOwnRoom(e) {
    return (e.event === 'video:viewers' && this.videos.has(e.data?.videoId))
      || (e.event === 'chat:user-count' && this.chats.has(e.data?.videoId));
  }

  describe(from = 0) {
    const list = this.events.slice(from).map((e) => `${e.event} ${JSON.stringify(e.data)}`);
    return list.length ? list.join(' | ') : '(nothing)';
  }
}
