import swagger from '@fastify/swagger';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { VERSION } from '../paths.js';
import { bearerRequirement } from './auth.js';
import { COMMON_ERRORS, errorResponses, NoQuery } from './schemas.js';
import { staticFiles } from './status-routes.js';

type RouteSchema = Record<string, unknown> & { response?: Record<string, unknown> };

const DESCRIPTION = `The local HTTP API of one store-gateway: health, metrics and status; POS transaction ingest;
offer lookups; the live event stream; the Meraki Scanning API receiver. docs/API.md has the prose:
authentication, rate limits, body limits and the error shape. Every error answers
\`{ "error": "GW_ERR_…", "message": "…", "details": … }\` with the codes of docs/ERRORS.md.`;

/**
 * What the document says about a route beyond its own schema, derived from the route itself so it
 * cannot drift: the bearer scope of its `bearerAuth` hook (and 401/403), 400 when it reads input,
 * 429 everywhere (the rate limit applies to every route).
 */
export function documentRoute({ schema, url, route }: { schema: unknown; url: string; route: RouteOptions }) {
  const own = (schema ?? {}) as RouteSchema;
  const bearer = bearerRequirement(route.onRequest);
  const codes = [...COMMON_ERRORS];
  if (bearer) codes.push('GW_ERR_UNAUTHORIZED', 'GW_ERR_FORBIDDEN');
  const out: RouteSchema = { ...own, response: { ...errorResponses(...codes), ...(own.response ?? {}) } };
  if (bearer) {
    out.security = [{ bearer: [bearer.scope] }, ...(bearer.query ? [{ accessToken: [bearer.scope] }] : [])];
  }
  return { schema: out, url };
}

/**
 * The OpenAPI 3.1 document of the local API, generated from the route schemas by @fastify/swagger:
 * JSON at /docs/openapi.json, a plain page listing it at /docs. Must be registered before the
 * routes it documents.
 */
export function openApi(app: FastifyInstance): void {
  void app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'store-gateway local API', version: VERSION, description: DESCRIPTION },
      components: {
        securitySchemes: {
          bearer: {
            type: 'http',
            scheme: 'bearer',
            description: 'A token from api.tokensFile; the listed scope is the one the route needs',
          },
          accessToken: {
            type: 'apiKey',
            in: 'query',
            name: 'access_token',
            description: 'The same token as a query parameter, for EventSource clients (RFC 6750 §2.3)',
          },
        },
      },
      tags: [
        { name: 'health', description: 'liveness, readiness, metrics' },
        { name: 'status', description: 'gateway status and the status page data' },
        { name: 'pos', description: 'POS lanes (docs/POS.md)' },
        { name: 'offers', description: 'offer lookups for POS lanes (docs/POS.md)' },
        { name: 'stream', description: 'live event stream (docs/POS.md)' },
        { name: 'presence', description: 'Meraki Scanning API receiver (docs/PRESENCE.md)' },
        {
          name: 'identity',
          description: 'Wi-Fi sign-in and shoppers identified at a lane (docs/IDENTITY.md)',
        },
      ],
    },
    transform: documentRoute,
  });
}

/** `/docs` (a page that lists the operations) and `/docs/openapi.json`. */
export function openApiRoutes(app: FastifyInstance): void {
  app.get('/docs/openapi.json', { schema: { hide: true, querystring: NoQuery } }, async () => app.swagger());
  staticFiles(app, {
    '/docs': 'docs.html',
    '/assets/docs.js': 'docs.js',
    '/assets/status.css': 'status.css',
    '/assets/favicon.svg': 'favicon.svg',
  });
}
