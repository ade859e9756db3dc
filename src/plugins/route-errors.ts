// The error answers the shared hooks give, declared on every route's schema in one place (an
// onRoute hook), from the same rules that produce them: keys and the rate limit (auth.ts),
// validation, body limits and content types (Fastify and errors.ts), lookups by id or name, and
// shutdown. A route file declares only what its own code adds (409, 504, a 503 of its own); a
// code it declares keeps its declaration. Public routes get `security: []` (the document's global
// requirement is the bearer key). Every error response is the one ErrorBody, which is also what
// Fastify serializes it with, so the schema admits everything sendError() sends (details included).
import type { FastifyInstance, FastifySchema, RouteOptions } from 'fastify';
import fp from 'fastify-plugin';

import { errorResponse } from '../errors.js';
import { isCounted, isPublic, readOnlyMay } from './auth.js';

/** Methods whose requests Fastify reads a body for (so a too large, unparsable or mistyped one is an error). */
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export const sharedErrors = {
  400: errorResponse('the request does not fit: a path parameter, query, header or body (the message names which and why)'),
  401: {
    ...errorResponse('no API key, a malformed Authorization header or a key that is not valid (only when the server has KILN_API_KEYS)'),
    headers: { 'WWW-Authenticate': { type: 'string', description: 'Bearer realm="kiln" (with error="invalid_token" for a wrong key)' } },
  },
  403: errorResponse('the API key is read-only and this route changes something'),
  404: errorResponse('no such job or data set'),
  413: errorResponse('the body is larger than the route\'s limit'),
  414: errorResponse('a path parameter longer than 100 characters (the router\'s limit; no id or name is that long)'),
  415: errorResponse('the content-type is not one this route takes'),
  429: {
    ...errorResponse('more requests a minute than KILN_RATE_LIMIT allows, from this API key (or address, without keys)'),
    headers: {
      'Retry-After': { type: 'integer', description: 'seconds until the window resets' },
      'X-RateLimit-Limit': { type: 'integer', description: 'requests allowed a minute' },
      'X-RateLimit-Remaining': { type: 'integer', description: 'requests left in this window (0)' },
      'X-RateLimit-Reset': { type: 'integer', description: 'seconds until the window resets' },
    },
  },
  500: errorResponse('an unexpected failure; the message names the request id, the server log has the details'),
  503: errorResponse('the server is shutting down (the connection closes; retry on another instance or later)'),
} as const;

type Status = keyof typeof sharedErrors;

const methodsOf = (m: RouteOptions['method']) => (Array.isArray(m) ? m : [m]) as string[];

/** The statuses the shared hooks can answer this route with. */
export function sharedStatuses(method: RouteOptions['method'], url: string, schema: FastifySchema | undefined): Status[] {
  const methods = methodsOf(method);
  const hasBody = methods.some((m) => BODY_METHODS.has(m));
  const out: Status[] = [];
  if (hasBody || schema?.params || schema?.querystring || schema?.headers || schema?.body) out.push(400);
  if (!isPublic(url)) {
    out.push(401);
    if (methods.some((m) => !readOnlyMay(m, url))) out.push(403);
  }
  // every path parameter of this API names a job or a data set
  if (url.includes('/:')) out.push(404, 414);
  if (hasBody) out.push(413, 415);
  if (isCounted(url)) out.push(429);
  out.push(500, 503);
  return out;
}

export default fp(async (app: FastifyInstance) => {
  app.addHook('onRoute', (route) => {
    const schema = route.schema;
    if (isPublic(route.url)) route.schema = { ...schema, security: [] } as FastifySchema;
    // undocumented routes (the dashboard's files, Swagger UI) keep Fastify's own serializers
    if (!schema || (schema as { hide?: boolean }).hide) return;
    const own = (schema.response ?? {}) as Record<string, unknown>;
    const shared = Object.fromEntries(sharedStatuses(route.method, route.url, schema).map((s) => [s, sharedErrors[s]]));
    // a new object: route files share schema objects between routes
    route.schema = { ...route.schema, response: { ...shared, ...own } };
  });
}, { name: 'kiln-route-errors' });
