// API keys and rate limiting, in one onRequest hook: who is calling (a key, or an address), how
// often they may call, then what they may do.
//
// - Keys (config.apiKeys, from KILN_API_KEYS): none = open. With keys, every route needs
//   `Authorization: Bearer <token>` except /health and the dashboard's files (/ and /ui/*); a
//   read-only key may GET/HEAD, and POST /v1/models/summary and /v1/jobs/:id/predict (they change nothing). Missing or wrong
//   key: 401 with WWW-Authenticate; a read-only key mutating: 403. Routes are told apart by the
//   pattern the router matched, never by the raw path, so encodings and dot segments cannot make a
//   protected route look public; an unknown path needs a key too (its 404 is not for strangers).
// - Tokens are compared as SHA-256 digests with timingSafeEqual, every key every time, so the time
//   taken says nothing about how much of a token was right, nor which key matched.
// - Rate limit (config.rateLimit per minute; 0 = off): one bucket per key, else per client
//   address; counted before the key is checked, so guessing keys is limited too. /health and the
//   SSE streams (long-lived, reconnecting) are not counted. Over the limit: 429 with Retry-After.
import { createHash, timingSafeEqual } from 'node:crypto';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';

import type { ApiKey, Config } from '../config.js';
import { KilnError } from '../errors.js';

/** The key a request authenticated with: its position in KILN_API_KEYS (never the token). */
export interface Caller {
  key: number;
  access: ApiKey['access'];
}

declare module 'fastify' {
  interface FastifyRequest {
    /** null: no keys are configured, or the request carried none that matched */
    caller: Caller | null;
  }
}

// Exported for plugins/route-errors.ts, which declares in the OpenAPI document what these rules answer.
/** Routes anyone may call, keys or not. */
export const isPublic = (route: string) => route === '/health' || route === '/' || route === '/ui' || route.startsWith('/ui/');
const notCounted = new Set(['/health', '/v1/events', '/v1/jobs/:id/events']);
/** Routes the rate limit counts. */
export const isCounted = (route: string) => !notCounted.has(route);
// Read-only keys: methods that read, plus routes that only compute.
const readMethods = new Set(['GET', 'HEAD']);
const readOnlyPosts = new Set(['/v1/models/summary', '/v1/jobs/:id/predict']);
/** Whether a read-only key may call this method on this route (else 403). */
export const readOnlyMay = (method: string, route: string | undefined) =>
  readMethods.has(method) || (method === 'POST' && route !== undefined && readOnlyPosts.has(route));

const digest = (s: string) => createHash('sha256').update(s).digest();

/** The keys as digests; match() is constant-time in the token and in the number of keys. */
export function keyRing(keys: ApiKey[]): (token: string) => Caller | null {
  const ring = keys.map((k, i) => ({ hash: digest(k.token), caller: { key: i, access: k.access } }));
  return (token) => {
    const h = digest(token);
    let found: Caller | null = null;
    for (const k of ring) if (timingSafeEqual(h, k.hash) && found === null) found = k.caller;
    return found;
  };
}

const BEARER = /^Bearer +(\S+) *$/i;

export default fp(async (app: FastifyInstance, o: { config: Pick<Config, 'apiKeys' | 'rateLimit'> }) => {
  const keys = o.config.apiKeys;
  const match = keyRing(keys);
  const perMinute = o.config.rateLimit;
  app.decorateRequest('caller', null);

  let count: ReturnType<FastifyInstance['createRateLimit']> | null = null;
  if (perMinute > 0) {
    await app.register(rateLimit, { global: false });
    count = app.createRateLimit({
      max: perMinute,
      timeWindow: 60_000,
      keyGenerator: (req) => (req.caller ? `key:${req.caller.key}` : `ip:${req.ip}`),
    });
  }

  const deny = (reply: FastifyReply, code: 'KILN_ERR_UNAUTHORIZED' | 'KILN_ERR_FORBIDDEN', message: string, challenge?: string): never => {
    if (challenge !== undefined) reply.header('www-authenticate', challenge);
    throw new KilnError(code, message);
  };

  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    // undefined for a path no route matched (the 404 handler)
    const route: string | undefined = req.routeOptions.url;
    const header = req.headers.authorization;
    const bearer = header === undefined ? null : BEARER.exec(header)?.[1] ?? '';
    if (keys.length > 0 && bearer) req.caller = match(bearer);

    if (count && !(route !== undefined && notCounted.has(route))) {
      const r = await count(req);
      if (!r.isAllowed) {
        reply.header('x-ratelimit-limit', r.max).header('x-ratelimit-remaining', r.remaining).header('x-ratelimit-reset', r.ttlInSeconds);
        if (r.isExceeded) {
          reply.header('retry-after', r.ttlInSeconds);
          throw new KilnError('KILN_ERR_RATE_LIMITED', `more than ${r.max} requests a minute from this ${req.caller ? 'API key' : 'address'}; retry in ${r.ttlInSeconds} s`);
        }
      }
    }

    if (keys.length === 0 || (route !== undefined && isPublic(route))) return;
    if (bearer === null) return deny(reply, 'KILN_ERR_UNAUTHORIZED', 'this route needs an API key: send Authorization: Bearer <token>', 'Bearer realm="kiln"');
    if (!req.caller) {
      const why = bearer === '' ? 'the Authorization header must be "Bearer <token>"' : 'the API key is not valid';
      return deny(reply, 'KILN_ERR_UNAUTHORIZED', why, 'Bearer realm="kiln", error="invalid_token"');
    }
    if (req.caller.access === 'read' && !readOnlyMay(req.method, route)) {
      return deny(reply, 'KILN_ERR_FORBIDDEN', `this API key is read-only: it may not ${req.method} ${route ?? req.url.split('?')[0]}`);
    }
  });
}, { name: 'kiln-auth' });
