'use strict';
// The realtime service specification (shared/seed/realtime-service.md)
// implemented the way its README describes it: one Socket.IO 4 server per
// process, the Redis adapter for several instances, JWT auth that is optional
// by default, the spec's events and payloads (as the Go service's README lists
// them), an in-memory per-user chat rate limit, GET /health. It is the
// baseline of the benchmark in ../README.md, written as a team would write it
// from the spec, without tuning beyond what the spec itself suggests.
//
// Not implemented: the Kafka consumer of platform events. The same events can
// be posted to POST /internal/events (Authorization: Bearer $ADMIN_TOKEN),
// as the Go edge allows; the benchmark does not use them.
//
// Settings (environment):
//   PORT (4100), HOST (0.0.0.0)
//   JWT_SECRET        HS256 secret; empty: every client is anonymous
//   AUTH_REQUIRED     "true" refuses clients without a valid token (default false)
//   REDIS_URL         e.g. redis://127.0.0.1:6379; empty: no adapter (one instance)
//   REDIS_PREFIX      the adapter's channel prefix (default "socket.io"); the
//                     adapter only uses pub/sub channels, it stores no keys
//   CHAT_RATE_PER_MIN messages per user per minute per instance, 0 = no limit (10)
//   CHAT_MAX_LENGTH   longest message after cleaning (500)
//   COUNT_SCOPE       "local" (default): viewer/chatter counts are this instance's
//                     room sizes; "cluster" (needs REDIS_URL): one Redis counter
//                     per room shared by every instance (a round trip per join)
//   ADMIN_TOKEN       enables POST /internal/events
//   PING_INTERVAL / PING_TIMEOUT in ms (25000 / 20000), CORS_ORIGINS (any)

const http = require('node:http');
const { randomUUID } = require('node:crypto');
const { Server } = require('socket.io');
const jwt = require('jsonwebtoken');

const env = process.env;
const cfg = {
  port: Number(env.PORT || 4100),
  host: env.HOST || '0.0.0.0',
  jwtSecret: env.JWT_SECRET || '',
  authRequired: env.AUTH_REQUIRED === 'true',
  redisUrl: env.REDIS_URL || '',
  redisPrefix: env.REDIS_PREFIX || 'socket.io',
  chatRatePerMin: env.CHAT_RATE_PER_MIN === undefined ? 10 : Number(env.CHAT_RATE_PER_MIN),
  chatMaxLength: Number(env.CHAT_MAX_LENGTH || 500),
  countScope: env.COUNT_SCOPE === 'cluster' ? 'cluster' : 'local',
  adminToken: env.ADMIN_TOKEN || '',
  pingInterval: Number(env.PING_INTERVAL || 25000),
  pingTimeout: Number(env.PING_TIMEOUT || 20000),
  corsOrigins: env.CORS_ORIGINS ? env.CORS_ORIGINS.split(',').map((s) => s.trim()) : '*',
};

const log = (level, msg, extra = {}) =>
  process.stderr.write(JSON.stringify({ time: new Date().toISOString(), level, msg, ...extra }) + '\n');

// --- HTTP: /health and /internal/events ---------------------------------

const httpServer = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/health') {
    return json(res, 200, {
      status: 'healthy',
      service: 'realtime',
      timestamp: new Date().toISOString(),
      connections: io.engine.clientsCount,
    });
  }
  if (req.method === 'POST' && req.url === '/internal/events') {
    return internalEvent(req, res);
  }
  json(res, 404, { error: 'not found' }); // Socket.IO answers /socket.io/ before this handler
});

function json(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

const io = new Server(httpServer, {
  cors: { origin: cfg.corsOrigins },
  transports: ['websocket', 'polling'],
  pingInterval: cfg.pingInterval,
  pingTimeout: cfg.pingTimeout,
  serveClient: false,
});

// --- authentication (optional JWT, as the spec's Security section says) ---

io.use((socket, next) => {
  const token = socket.handshake.auth && socket.handshake.auth.token;
  if (!token || !cfg.jwtSecret) {
    if (cfg.authRequired) return next(new Error('authentication required'));
    socket.data.userId = 'anon-' + randomUUID().slice(0, 16);
    socket.data.anonymous = true;
    return next();
  }
  try {
    const claims = jwt.verify(String(token).replace(/^Bearer\s+/i, ''), cfg.jwtSecret, { algorithms: ['HS256'] });
    const sub = claims.sub ?? claims.userId ?? claims.id;
    if (sub === undefined || sub === null || sub === '') return next(new Error('invalid token: missing subject'));
    socket.data.userId = String(sub);
    socket.data.anonymous = false;
    next();
  } catch (err) {
    next(new Error('invalid token'));
  }
});

// --- helpers --------------------------------------------------------------

const idOf = (v) => (typeof v === 'string' && v !== '') || typeof v === 'number' ? String(v) : null;

// Room sizes. "local": this instance's room, as the spec's README shows
// (io.sockets.adapter.rooms). "cluster": a counter per room in one Redis hash
// (HINCRBY on join/leave), so several instances agree; the key is
// <REDIS_PREFIX>:counts and expires a day after its last change.
// (fetchSockets() would also count across instances, but each answer carries
// every socket of the room: at 1,000 members that overflows Redis' pub/sub
// output buffer and the adapter's connection is dropped.)
const countsKey = `${cfg.redisPrefix}:counts`;
let redisCmd = null; // the adapter's publishing client doubles as a command client

async function changeCount(room, delta) {
  if (cfg.countScope === 'cluster' && redisCmd) {
    const [n] = await redisCmd.multi().hIncrBy(countsKey, room, delta).expire(countsKey, 86400).exec();
    return Math.max(0, Number(n));
  }
  const members = io.of('/').adapter.rooms.get(room);
  return members ? members.size : 0;
}

// join/leave change the socket's room and broadcast the room's new size, as
// the spec's "current viewer count per video" / "active users in chat" ask.
// Joining a room twice or leaving one it is not in changes nothing.
function joinCounted(socket, kind, videoId) {
  const room = `${kind}:${videoId}`;
  if (socket.rooms.has(room)) return;
  socket.join(room);
  broadcastCount(kind, videoId, +1);
}

function leaveCounted(socket, kind, videoId) {
  const room = `${kind}:${videoId}`;
  if (!socket.rooms.has(room)) return;
  socket.leave(room);
  broadcastCount(kind, videoId, -1);
}

async function broadcastCount(kind, videoId, delta) {
  if (shuttingDown) return;
  try {
    const count = await changeCount(`${kind}:${videoId}`, delta);
    if (kind === 'video') {
      io.to(`video:${videoId}`).emit('video:viewers', { videoId, count });
    } else {
      io.to(`chat:${videoId}`).emit('chat:user-count', { videoId, count });
    }
  } catch (err) {
    log('warn', 'count failed', { error: String(err) });
  }
}

// cleanMessage: line breaks become spaces, other control characters go,
// both ends are trimmed (the Go chat worker's rules, simplified).
function cleanMessage(raw) {
  return String(raw)
    .replace(/\r\n|[\r\n\t\v\f\u0085\u2028\u2029]/g, ' ')
    .replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, '')
    .trim();
}

const rateWindows = new Map(); // userId → { count, resetTime }, as in the spec

function rateLimited(userId) {
  if (!(cfg.chatRatePerMin > 0)) return false;
  const now = Date.now();
  let w = rateWindows.get(userId);
  if (!w || now > w.resetTime) {
    w = { count: 0, resetTime: now + 60000 };
    rateWindows.set(userId, w);
  }
  w.count++;
  return w.count > cfg.chatRatePerMin;
}
setInterval(() => {
  const now = Date.now();
  for (const [k, w] of rateWindows) if (now > w.resetTime) rateWindows.delete(k);
}, 60000).unref();

// --- events ---------------------------------------------------------------

io.on('connection', (socket) => {
  const { userId, anonymous } = socket.data;
  if (!anonymous) socket.join(`user:${userId}`);

  const ok = (ack) => typeof ack === 'function' && ack({ ok: true });
  const refuse = (event, ack, message) => {
    if (typeof ack === 'function') ack({ error: message });
    socket.emit('error', { message, event });
  };
  // on registers a handler that gets an object payload and the ack.
  const on = (event, fn) =>
    socket.on(event, (payload, ack) => {
      if (typeof payload === 'function') [payload, ack] = [undefined, payload];
      if (payload === null || typeof payload !== 'object') return refuse(event, ack, 'payload required');
      fn(payload, ack);
    });

  on('video:join', ({ videoId }, ack) => {
    const id = idOf(videoId);
    if (!id) return refuse('video:join', ack, 'videoId required');
    joinCounted(socket, 'video', id);
    ok(ack);
  });
  on('video:leave', ({ videoId }, ack) => {
    const id = idOf(videoId);
    if (!id) return refuse('video:leave', ack, 'videoId required');
    leaveCounted(socket, 'video', id);
    ok(ack);
  });
  on('video:progress', ({ videoId, timestamp }, ack) => {
    const id = idOf(videoId);
    if (!id || typeof timestamp !== 'number') return refuse('video:progress', ack, 'videoId and timestamp required');
    if (!anonymous) socket.to(`user:${userId}`).emit('video:sync', { videoId: id, timestamp });
    ok(ack);
  });

  on('chat:join', ({ videoId }, ack) => {
    const id = idOf(videoId);
    if (!id) return refuse('chat:join', ack, 'videoId required');
    joinCounted(socket, 'chat', id);
    ok(ack);
  });
  on('chat:leave', ({ videoId }, ack) => {
    const id = idOf(videoId);
    if (!id) return refuse('chat:leave', ack, 'videoId required');
    leaveCounted(socket, 'chat', id);
    ok(ack);
  });
  on('chat:message', ({ videoId, message }, ack) => {
    const id = idOf(videoId);
    if (!id || typeof message !== 'string') return refuse('chat:message', ack, 'videoId and message required');
    if (anonymous) return refuse('chat:message', ack, 'Anonymous users cannot post in chat');
    if (rateLimited(userId)) return refuse('chat:message', ack, 'Rate limit exceeded');
    const text = cleanMessage(message);
    if (text === '') return refuse('chat:message', ack, 'Message is empty');
    if ([...text].length > cfg.chatMaxLength) {
      return refuse('chat:message', ack, `Message is too long (max ${cfg.chatMaxLength} characters)`);
    }
    io.to(`chat:${id}`).emit('chat:message', { id: randomUUID(), videoId: id, userId, message: text, timestamp: Date.now() });
    ok(ack);
  });
  on('chat:typing', ({ videoId, isTyping }, ack) => {
    const id = idOf(videoId);
    if (!id || typeof isTyping !== 'boolean') return refuse('chat:typing', ack, 'videoId and isTyping required');
    socket.to(`chat:${id}`).emit('chat:typing', { userId, isTyping, videoId: id });
    ok(ack);
  });

  on('notifications:subscribe', ({ channelId }, ack) => {
    const id = idOf(channelId);
    if (!id) return refuse('notifications:subscribe', ack, 'channelId required');
    socket.join(`channel:${id}`);
    ok(ack);
  });
  on('notifications:unsubscribe', ({ channelId }, ack) => {
    const id = idOf(channelId);
    if (!id) return refuse('notifications:unsubscribe', ack, 'channelId required');
    socket.leave(`channel:${id}`);
    ok(ack);
  });
  on('notifications:read', ({ notificationId }, ack) => {
    const id = idOf(notificationId);
    if (!id) return refuse('notifications:read', ack, 'notificationId required');
    if (!anonymous) socket.to(`user:${userId}`).emit('notifications:read', { notificationId: id });
    ok(ack);
  });

  // Counts of the rooms the socket leaves by disconnecting.
  let leaving = [];
  socket.on('disconnecting', () => {
    leaving = [...socket.rooms];
  });
  socket.on('disconnect', () => {
    for (const room of leaving) {
      if (room.startsWith('video:')) broadcastCount('video', room.slice(6), -1);
      else if (room.startsWith('chat:')) broadcastCount('chat', room.slice(5), -1);
    }
  });
});

// --- platform events over HTTP (instead of the spec's Kafka consumer) -----

function internalEvent(req, res) {
  if (!cfg.adminToken) return json(res, 404, { error: 'not found' });
  if (req.headers.authorization !== `Bearer ${cfg.adminToken}`) return json(res, 401, { error: 'unauthorized' });
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (c) => {
    body += c;
    if (body.length > 1e6) req.destroy();
  });
  req.on('end', () => {
    let ev;
    try {
      ev = JSON.parse(body);
    } catch {
      return json(res, 400, { error: 'invalid JSON' });
    }
    const err = relay(ev);
    if (err) return json(res, 400, { error: err });
    json(res, 202, { ok: true });
  });
}

function relay(ev) {
  switch (ev && ev.type) {
    case 'video.view':
      io.to(`video:${ev.videoId}`).emit('video:view', { videoId: ev.videoId, timestamp: ev.timestamp });
      return null;
    case 'video.like':
    case 'video.dislike':
      io.to(`video:${ev.videoId}`).emit('video:like', { videoId: ev.videoId, type: ev.type, timestamp: ev.timestamp });
      return null;
    case 'comment.created':
      io.to(`video:${ev.videoId}`).emit('video:comment', { videoId: ev.videoId, commentId: ev.commentId, timestamp: ev.timestamp });
      return null;
    case 'notification.created':
      if (!ev.userId || !ev.notification) return 'userId and notification required';
      io.to(`user:${ev.userId}`).emit('notification', ev.notification);
      return null;
    case 'channel.video_published':
      io.to(`channel:${ev.channelId}`).emit('notification', {
        id: randomUUID(),
        type: 'new_video',
        title: `New video from ${ev.channelName}`,
        message: ev.title,
        timestamp: ev.timestamp,
      });
      return null;
    default:
      return 'unknown event type';
  }
}

// --- start and stop ---------------------------------------------------------

let redisClients = [];
let shuttingDown = false;

// The Redis adapter publishes without awaiting: a Redis outage surfaces as
// unhandled rejections. Log them instead of crashing (Node's default).
process.on('unhandledRejection', (err) => {
  if (!shuttingDown) log('error', 'unhandled rejection', { error: String(err) });
});

async function main() {
  if (cfg.redisUrl) {
    const { createClient } = require('redis');
    const { createAdapter } = require('@socket.io/redis-adapter');
    const pub = createClient({ url: cfg.redisUrl });
    const sub = pub.duplicate();
    for (const c of [pub, sub]) c.on('error', (err) => log('error', 'redis', { error: String(err) }));
    await Promise.all([pub.connect(), sub.connect()]);
    redisClients = [pub, sub];
    redisCmd = pub;
    io.adapter(createAdapter(pub, sub, { key: cfg.redisPrefix }));
  }
  httpServer.listen(cfg.port, cfg.host, () =>
    log('info', 'listening', { port: cfg.port, redis: !!cfg.redisUrl, prefix: cfg.redisPrefix, chatRatePerMin: cfg.chatRatePerMin }),
  );
}

function shutdown() {
  if (shuttingDown) return;
  shuttingDown = true;
  io.close();
  Promise.allSettled(redisClients.map((c) => c.quit())).finally(() => process.exit(0));
  setTimeout(() => process.exit(0), 5000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

main().catch((err) => {
  log('error', 'start failed', { error: String(err) });
  process.exit(1);
});
