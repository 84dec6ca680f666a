import { Type } from '@sinclair/typebox';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyPluginCallback,
  LogController,
  type RouteOptions,
} from 'fastify';
import { parseSize } from '../config/types.js';
import type { Gateway } from '../gateway.js';
import { type BearerRequirement, bearerAuth, bearerRequirement, openTokenFile, TokenFile } from './auth.js';
import { coreRoutes } from './core-routes.js';
import { apiErrorHandler, notFound } from './error-handler.js';
import { openApi, openApiRoutes } from './openapi.js';
import { NoQuery } from './schemas.js';
import { rateLimiting, securityHeaders } from './security.js';
import { statusPageRoutes } from './status-routes.js';

/** A route of the API as registered (HEAD routes left out). */
export interface ApiRoute {
  method: string;
  url: string;
  /** Left out of the OpenAPI document (static files, the document itself). */
  hidden: boolean;
  /** The bearer token the route requires, if it has a `bearerAuth` hook. */
  bearer: BearerRequirement | undefined;
  /** The parts of a request the route has a schema for (after withDefaultSchemas). */
  schemas: { querystring: boolean; params: boolean; body: boolean; headers: boolean };
}

/** A plugin from a function that may return a promise (avoids fastify's overloads of `register`). */
const plugin =
  (setup: (scope: FastifyInstance) => Promise<void> | void): FastifyPluginCallback =>
  (scope, _opts, done) => {
    Promise.resolve()
      .then(() => setup(scope))
      .then(() => done(), done);
  };

/** What a path parameter without a declared schema must be: a short printable id, no spaces. */
const DefaultParam = Type.String({ minLength: 1, maxLength: 64, pattern: '^[\\x21-\\x7e]+$' });

/**
 * Schema validation everywhere, even on a route that forgets part of its schema: a route that
 * declares no query string schema takes no query parameters (any is a 400), and path parameters
 * without a schema must be short printable ids. A body schema cannot be guessed; a test checks
 * that every write route declares one.
 */
export function withDefaultSchemas(route: RouteOptions): void {
  const schema = { ...((route.schema ?? {}) as Record<string, unknown>) };
  let changed = false;
  if (schema.querystring === undefined) {
    schema.querystring = NoQuery;
    changed = true;
  }
  const names = [...route.url.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1] as string);
  if (names.length > 0 && schema.params === undefined) {
    schema.params = Type.Object(Object.fromEntries(names.map((n) => [n, DefaultParam])), {
      additionalProperties: false,
    });
    changed = true;
  }
  // A copy, never the route's own object: modules share one schema object between restarts.
  if (changed) route.schema = schema;
}

const ROUTES = new WeakMap<FastifyInstance, ApiRoute[]>();

/** Every route of an API built by `buildApi` (complete once it is ready). */
export const apiRoutes = (app: FastifyInstance): readonly ApiRoute[] => ROUTES.get(app) ?? [];

/**
 * The local HTTP API. `buildApi` wires routes without listening, so tests use `inject()`;
 * `listen` is the caller's job. Feature modules add their routes as encapsulated plugins.
 *
 * Around every route (docs/API.md): security headers, a body limit (`api.bodyLimit` unless the
 * route sets its own), the rate limit (`api.rateLimit`, counted before any token check), schema
 * validation of body, query string and parameters (400 with every failing path; a route without a
 * query string schema takes no parameters, see withDefaultSchemas), and one error
 * shape. Write routes take a bearer token (`bearerAuth`), the Meraki receiver its shared secret.
 */
export function buildApi(gateway: Gateway): FastifyInstance {
  const cfg = gateway.config.api;
  const app = Fastify({
    loggerInstance: gateway.log.child({ component: 'api' }) as FastifyBaseLogger,
    // Requests are not logged one by one: bodies and headers may carry tokens or personal data.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: parseSize(cfg.bodyLimit),
    // Unknown keys are refused (not silently dropped) and every failing path is reported.
    ajv: {
      customOptions: { allErrors: true, removeAdditional: false, coerceTypes: 'array', useDefaults: true },
    },
  });
  // Response schemas document the answers for /docs; they never reshape what a handler sends.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  app.setErrorHandler(apiErrorHandler(gateway.log));
  app.setNotFoundHandler(notFound);
  // One debug line per answered request: the route pattern, never the URL (a query string or path
  // may hold a loyalty id or a token), and no header or body. gateway.log follows set-log-level.
  app.addHook('onResponse', async (req, reply) => {
    if (!gateway.log.isLevelEnabled('debug')) return;
    gateway.log.debug(
      {
        component: 'api',
        method: req.method,
        route: req.routeOptions.url ?? '(no route)',
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 10) / 10,
      },
      'api request',
    );
  });

  const routes: ApiRoute[] = [];
  ROUTES.set(app, routes);
  app.addHook('onRoute', (r) => {
    withDefaultSchemas(r);
    for (const method of [r.method].flat()) {
      if (method === 'HEAD') continue;
      const schema = (r.schema ?? {}) as Record<string, unknown>;
      const has = (part: string) => schema[part] !== undefined;
      routes.push({
        method,
        url: r.url,
        hidden: schema.hide === true,
        bearer: bearerRequirement(r.onRequest),
        schemas: {
          querystring: has('querystring'),
          params: has('params'),
          body: has('body'),
          headers: has('headers'),
        },
      });
    }
  });

  securityHeaders(app);
  openApi(app);
  void app.register(
    plugin(async (scope) => {
      const deps = { log: gateway.log.child({ component: 'api' }), clock: gateway.clock };
      // The API's own view of the tokens: rate-limit keys and the status scope. A bad file stops the start.
      const tokens = cfg.tokensFile === undefined ? undefined : new TokenFile(cfg.tokensFile, deps);
      const statusAuth = cfg.statusPage.requireToken
        ? bearerAuth({
            tokens: openTokenFile(cfg.tokensFile, 'api.statusPage.requireToken', deps),
            scope: 'status',
            metrics: gateway.metrics,
          })
        : undefined;
      await rateLimiting(scope, gateway, tokens);
      coreRoutes(scope, gateway, statusAuth);
      openApiRoutes(scope);
      if (cfg.statusPage.enabled) await statusPageRoutes(scope, gateway, statusAuth);
      for (const m of gateway.modules) {
        const moduleRoutes = m.routes?.bind(m);
        if (moduleRoutes) await scope.register(plugin(moduleRoutes));
      }
    }),
  );

  return app;
}
