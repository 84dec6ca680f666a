import SwaggerParser from '@apidevtools/swagger-parser';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiRoutes, buildApi } from '../../src/api/server.js';
import { buildGateway, type Gateway } from '../../src/gateway.js';
import { silentLogger } from '../../src/logger.js';
import { PosTransactionData } from '../../src/pos/schema.js';
import { freePort } from '../helpers/ports.js';
import { tmpDir } from '../helpers/tmp.js';
import { fullApiConfig, MERAKI_PATH } from '../integration/api-security-gateway.js';

/*
 * The OpenAPI document at /docs/openapi.json is generated from the route schemas of a gateway with
 * every API feature on (inject, no listen). It must be a valid OpenAPI 3.1 document that lists
 * every route, says which token each needs, and carries the schemas the code validates with.
 */

type Operation = {
  security?: Record<string, string[]>[];
  parameters?: { in: string; name: string }[];
  requestBody?: { content: Record<string, { schema: unknown }> };
  responses: Record<string, unknown>;
  summary?: string;
};
type Doc = { openapi: string; info: { version: string }; paths: Record<string, Record<string, Operation>> };

describe('OpenAPI document of the local API', () => {
  const dir = tmpDir('sg-openapi-');
  let gateway: Gateway;
  let api: FastifyInstance;
  let doc: Doc;

  beforeAll(async () => {
    const { config } = fullApiConfig(dir.path, `mqtt://127.0.0.1:${await freePort()}`);
    gateway = buildGateway(config, { log: silentLogger() });
    await gateway.start();
    api = buildApi(gateway);
    await api.ready();
    const res = await api.inject({ url: '/docs/openapi.json' });
    expect(res.statusCode).toBe(200);
    doc = res.json() as Doc;
  });

  afterAll(async () => {
    await api?.close();
    await gateway?.stop();
    dir.cleanup();
  });

  const operation = (path: string, method: string) => doc.paths[path]?.[method] as Operation;

  it('is a valid OpenAPI 3.1 document (swagger-parser)', async () => {
    expect(doc.openapi).toBe('3.1.0');
    const validated = (await SwaggerParser.validate(structuredClone(doc) as never)) as unknown as Doc;
    expect(Object.keys(validated.paths).length).toBeGreaterThanOrEqual(10);
  });

  it('lists every route of the API, and nothing that is not one', () => {
    const routes = apiRoutes(api).filter((r) => !r.hidden);
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
    );
    const registered = routes.map((r) => `${r.method} ${r.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`);
    expect(documented.sort()).toEqual(registered.sort());
    for (const path of [
      '/healthz',
      '/readyz',
      '/metrics',
      '/v1/status',
      '/v1/status/history',
      '/v1/status/events',
    ]) {
      expect(doc.paths[path]?.get, path).toBeDefined();
    }
    expect(operation('/v1/pos/transactions', 'post')).toBeDefined();
    expect(operation(MERAKI_PATH, 'post')).toBeDefined();
    expect(
      apiRoutes(api)
        .filter((r) => r.hidden)
        .map((r) => r.url),
    ).toContain('/docs/openapi.json');
  });

  it('says which bearer scope each protected route needs, from the route itself', () => {
    for (const route of apiRoutes(api).filter((r) => !r.hidden)) {
      const op = operation(route.url, route.method.toLowerCase());
      if (route.bearer) {
        expect(op.security, route.url).toContainEqual({ bearer: [route.bearer.scope] });
        expect(Object.keys(op.responses), route.url).toEqual(expect.arrayContaining(['401', '403']));
      } else {
        expect(op.security, route.url).toBeUndefined();
      }
    }
    expect(operation('/v1/events/stream', 'get').security).toEqual([
      { bearer: ['stream'] },
      { accessToken: ['stream'] },
    ]);
    expect(operation('/v1/pos/transactions', 'post').security).toEqual([{ bearer: ['pos'] }]);
  });

  it('documents a success, 400 and 429 for every operation, each error in the one error shape', () => {
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const codes = Object.keys(op.responses);
        expect(
          codes.some((c) => c.startsWith('2')),
          `${method} ${path}`,
        ).toBe(true);
        expect(codes, `${method} ${path}`).toEqual(expect.arrayContaining(['400', '429']));
        const error = op.responses['429'] as { content: Record<string, { schema: { properties: object } }> };
        expect(Object.keys(error.content['application/json']?.schema.properties ?? {})).toEqual([
          'error',
          'message',
          'details',
        ]);
      }
    }
  });

  it('carries the schemas the code validates with', () => {
    const pos = operation('/v1/pos/transactions', 'post');
    const body = pos.requestBody?.content['application/json']?.schema;
    expect(body).toEqual(JSON.parse(JSON.stringify(PosTransactionData)));
    expect(pos.parameters?.map((p) => `${p.in}:${p.name}`)).toEqual(['header:idempotency-key']);
    expect(Object.keys(pos.responses)).toEqual(
      expect.arrayContaining(['202', '400', '401', '403', '409', '413', '415', '429', '503']),
    );
    const events = operation('/v1/status/events', 'get');
    expect(events.parameters?.map((p) => p.name).sort()).toEqual(['after', 'limit']);
    const offers = operation('/v1/offers', 'get');
    expect(offers.parameters?.map((p) => p.name).sort()).toEqual(['gtin', 'loyaltyId', 'segment']);
    // access_token is documented as a security scheme, not as a plain parameter.
    expect(operation('/v1/events/stream', 'get').parameters?.map((p) => p.name)).not.toContain(
      'access_token',
    );
  });

  it('is served as a page at /docs that loads only its own script', async () => {
    const res = await api.inject({ url: '/docs' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/html');
    expect(res.body).toContain('<script type="module" src="/assets/docs.js"></script>');
    const js = await api.inject({ url: '/assets/docs.js' });
    expect(js.statusCode).toBe(200);
    expect(js.headers['content-type']).toContain('text/javascript');
    expect(js.body).toContain("fetch('/docs/openapi.json')");
  });
});

describe('OpenAPI document with identity on (identity.enabled, identity.wifi.enabled)', () => {
  const dir = tmpDir('sg-openapi-identity-');
  let gateway: Gateway;
  let api: FastifyInstance;
  let doc: Doc;

  beforeAll(async () => {
    const { config } = fullApiConfig(dir.path, `mqtt://127.0.0.1:${await freePort()}`, {
      identity: { enabled: true, wifi: { enabled: true } },
    });
    gateway = buildGateway(config, { log: silentLogger() });
    await gateway.start();
    api = buildApi(gateway);
    await api.ready();
    doc = (await api.inject({ url: '/docs/openapi.json' })).json() as Doc;
  });

  afterAll(async () => {
    await api?.close();
    await gateway?.stop();
    dir.cleanup();
  });

  it('documents the identity routes like every other: tag, success answer, the body they read', async () => {
    const identity = apiRoutes(api).filter((r) => r.url.startsWith('/v1/identity/'));
    expect(identity.map((r) => `${r.method} ${r.url}`).sort()).toEqual([
      'DELETE /v1/identity/lanes/:lane',
      'GET /v1/identity/lanes/:lane',
      'POST /v1/identity/wifi-signin',
    ]);
    for (const r of identity) {
      const op = doc.paths[r.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}')]?.[
        r.method.toLowerCase()
      ] as Operation & {
        tags?: string[];
      };
      const what = `${r.method} ${r.url}`;
      expect(op.summary, what).toBeTruthy();
      expect(op.tags, what).toEqual(['identity']);
      expect(
        Object.keys(op.responses).some((c) => c.startsWith('2')),
        what,
      ).toBe(true);
      if (r.method === 'POST')
        expect(op.requestBody?.content['application/json']?.schema, what).toBeDefined();
    }
    await SwaggerParser.validate(structuredClone(doc) as never);
  });
});
