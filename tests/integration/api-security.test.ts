import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { Type } from '@sinclair/typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearerAuth, TokenFile } from '../../src/api/auth.js';
import { apiRoutes } from '../../src/api/server.js';
import { type Running, startGateway } from '../../src/cli/run.js';
import { validateConfig } from '../../src/config/load.js';
import type { Gateway } from '../../src/gateway.js';
import { silentLogger } from '../../src/logger.js';
import type { GatewayModule } from '../../src/modules.js';
import { rootPath } from '../../src/paths.js';
import { freePort } from '../helpers/ports.js';
import { tmpDir } from '../helpers/tmp.js';
import {
  fullApiConfig,
  MERAKI_PATH,
  MERAKI_SECRET,
  merakiPost,
  transaction,
} from './api-security-gateway.js';

/*
 * The local API's protections, over real HTTP (each gateway's API listens on 127.0.0.1 port 0 and
 * is called with fetch): bearer tokens on every write route, body limits, rate limits, schema
 * validation and security headers.
 */

/** A write route without its own body limit, as a later feature would add one: api.bodyLimit applies. */
function echoModule(tokensFile: string): GatewayModule {
  let gateway: Gateway | undefined;
  return {
    name: 'echo',
    start(g) {
      gateway = g;
    },
    stop() {},
    routes(app) {
      const g = gateway as Gateway;
      const tokens = new TokenFile(tokensFile, { log: g.log, clock: g.clock });
      app.post(
        '/v1/test/echo',
        {
          onRequest: bearerAuth({ tokens, scope: 'pos', metrics: g.metrics }),
          schema: {
            body: Type.Object(
              { name: Type.String({ maxLength: 8 }), count: Type.Integer({ minimum: 1 }) },
              { additionalProperties: false },
            ),
          },
        },
        async (req) => req.body,
      );
      // A read route that declares no schema at all: the API's defaults still validate it.
      app.get('/v1/test/items/:item', async (req) => ({ params: req.params, query: req.query }));
    },
  };
}

interface Api {
  running: Running;
  base: string;
  tokens: ReturnType<typeof fullApiConfig>['tokens'];
}

async function start(dir: string, extra: Record<string, unknown>): Promise<Api> {
  const { config, tokens } = fullApiConfig(dir, `mqtt://127.0.0.1:${await freePort()}`, extra);
  const running = await startGateway(config, {
    log: silentLogger(),
    modules: [echoModule(config.api.tokensFile as string)],
  });
  const port = (running.api!.server.address() as AddressInfo).port;
  return { running, base: `http://127.0.0.1:${port}`, tokens };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const json = { 'content-type': 'application/json' };

describe('local API security (real listen on 127.0.0.1, port 0)', () => {
  const dir = tmpDir('sg-apisec-');
  const strictDir = tmpDir('sg-apisec-strict-');
  let api: Api;
  /** Rate limit 5 per minute, status JSON behind the status scope. */
  let strict: Api;

  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${api.base}${path}`, {
      method: 'POST',
      headers: { ...json, ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });

  beforeAll(async () => {
    api = await start(dir.path, { api: { rateLimit: { max: 10000 } } });
    strict = await start(strictDir.path, {
      api: { rateLimit: { max: 5, windowSec: 60 }, statusPage: { requireToken: true } },
    });
  });

  afterAll(async () => {
    await api?.running.stop();
    await strict?.running.stop();
    dir.cleanup();
    strictDir.cleanup();
  });

  it('binds to the configured address, loopback by default', () => {
    const defaults = validateConfig({ store: { id: 's' }, gateway: { id: 'g' } });
    expect(defaults.ok && defaults.config.api.host).toBe('127.0.0.1');
    expect((api.running.api!.server.address() as AddressInfo).address).toBe('127.0.0.1');
  });

  describe('401: bearer tokens', () => {
    it('every write route needs a bearer token, except the Meraki receiver (its shared secret)', async () => {
      const writes = apiRoutes(api.running.api as never).filter((r) => r.method !== 'GET');
      expect(writes.map((r) => `${r.method} ${r.url}`).sort()).toEqual([
        'POST /v1/pos/transactions',
        'POST /v1/test/echo',
        `POST ${MERAKI_PATH}`,
      ]);
      for (const r of writes) {
        if (r.url === MERAKI_PATH) expect(r.bearer).toBeUndefined();
        else expect(r.bearer?.scope, r.url).toBe('pos');
        const res = await post(r.url, r.url === MERAKI_PATH ? merakiPost('not-the-secret') : { name: 'x' });
        expect(res.status, r.url).toBe(r.url === MERAKI_PATH ? 403 : 401);
      }
    });

    it('401 without a token or with an unknown one, with WWW-Authenticate; 403 without the scope', async () => {
      const missing = await post('/v1/pos/transactions', transaction(1));
      expect(missing.status).toBe(401);
      expect(missing.headers.get('www-authenticate')).toBe('Bearer realm="store-gateway"');
      expect(await missing.json()).toMatchObject({ error: 'GW_ERR_UNAUTHORIZED' });
      const unknown = await post('/v1/pos/transactions', transaction(1), bearer('x'.repeat(40)));
      expect(unknown.status).toBe(401);
      expect(unknown.headers.get('www-authenticate')).toContain('error="invalid_token"');
      const scope = await post('/v1/pos/transactions', transaction(1), bearer(api.tokens.kiosk));
      expect(scope.status).toBe(403);
      expect(await scope.json()).toMatchObject({ error: 'GW_ERR_FORBIDDEN' });
      const ok = await post('/v1/pos/transactions', transaction(1), bearer(api.tokens.lane1));
      expect(ok.status).toBe(202);
    });

    it('per-lane tokens: a lane token acts only for its own lane, a * token for every lane', async () => {
      const lane2 = { ...transaction(11), workstationId: 'lane-2' };
      const other = await post('/v1/pos/transactions', lane2, bearer(api.tokens.lane1));
      expect(other.status).toBe(403);
      expect(await other.json()).toMatchObject({ error: 'GW_ERR_FORBIDDEN' });
      expect((await post('/v1/pos/transactions', lane2, bearer(api.tokens.store))).status).toBe(202);
      expect((await post('/v1/pos/transactions', transaction(12), bearer(api.tokens.lane1))).status).toBe(
        202,
      );
    });

    it('the Meraki receiver refuses a wrong secret with 403 and takes the right one', async () => {
      expect((await post(MERAKI_PATH, merakiPost('wrong-secret-wrong-secret'))).status).toBe(403);
      const ok = await post(MERAKI_PATH, merakiPost(MERAKI_SECRET));
      expect(ok.status).toBe(200);
      expect(await ok.json()).toMatchObject({ accepted: 1 });
    });

    it('with api.statusPage.requireToken the status JSON needs the status scope; the page files do not', async () => {
      const noToken = await fetch(`${strict.base}/v1/status`);
      expect(noToken.status).toBe(401);
      const wrongScope = await fetch(`${strict.base}/v1/status/history`, {
        headers: bearer(strict.tokens.kiosk),
      });
      expect(wrongScope.status).toBe(403);
      for (const path of ['/v1/status', '/v1/status/history', '/v1/status/events']) {
        const res = await fetch(`${strict.base}${path}`, { headers: bearer(strict.tokens.status) });
        expect(res.status, path).toBe(200);
      }
      const page = await fetch(`${strict.base}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<title>store-gateway status</title>');
      // Without requireToken (the default), the status JSON is open.
      expect((await fetch(`${api.base}/v1/status/history`)).status).toBe(200);
    });
  });

  describe('413: body limits', () => {
    it('refuses a transaction over pos.maxBodyBytes', async () => {
      const tx = transaction(2);
      const big = {
        ...tx,
        lineItems: Array.from({ length: 1500 }, (_, i) => ({ ...tx.lineItems[0], sequenceNumber: i + 1 })),
      };
      const res = await post('/v1/pos/transactions', big, bearer(api.tokens.lane1));
      expect(res.status).toBe(413);
      expect(await res.json()).toMatchObject({ error: 'GW_ERR_BODY_TOO_LARGE' });
    });

    it('refuses a Meraki post over wifi.meraki.bodyLimitBytes', async () => {
      const limit = api.running.gateway.config.wifi.meraki.bodyLimitBytes;
      const res = await post(MERAKI_PATH, { ...merakiPost(), padding: 'x'.repeat(limit) });
      expect(res.status).toBe(413);
      expect(await res.json()).toMatchObject({ error: 'GW_ERR_BODY_TOO_LARGE' });
    });

    it('applies api.bodyLimit (64 KiB) to a write route without its own limit', async () => {
      const res = await post('/v1/test/echo', { name: 'x'.repeat(70 * 1024) }, bearer(api.tokens.lane1));
      expect(res.status).toBe(413);
      expect(await res.json()).toMatchObject({ error: 'GW_ERR_BODY_TOO_LARGE' });
      const small = await post('/v1/test/echo', { name: 'ok', count: 1 }, bearer(api.tokens.lane1));
      expect(small.status).toBe(200);
      expect(await small.json()).toEqual({ name: 'ok', count: 1 });
    });
  });

  describe('429: rate limits', () => {
    const healthz = (headers: Record<string, string> = {}) => fetch(`${strict.base}/healthz`, { headers });

    it('limits a token to api.rateLimit.max per window, with Retry-After; other tokens keep their allowance', async () => {
      const t = bearer(strict.tokens.unscoped);
      for (let i = 0; i < 5; i++) expect((await healthz(t)).status).toBe(200);
      const limited = await healthz(t);
      expect(limited.status).toBe(429);
      const retryAfter = Number(limited.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(60);
      const body = await limited.json();
      expect(body).toMatchObject({ error: 'GW_ERR_RATE_LIMITED' });
      expect((await healthz(bearer(strict.tokens.lane1))).status).toBe(200);
    });

    it('limits requests without a valid token by address; invented tokens and token guesses count there too', async () => {
      let last = 0;
      for (let i = 0; i < 10 && last !== 429; i++) last = (await healthz()).status;
      expect(last).toBe(429);
      expect((await healthz(bearer('invented-token-0123456789'))).status).toBe(429);
      // The limit runs before the token check: a guess gets 429, not 401.
      const guess = await fetch(`${strict.base}/v1/pos/transactions`, {
        method: 'POST',
        headers: { ...json, ...bearer('guessed-token-0123456789') },
        body: JSON.stringify(transaction(3)),
      });
      expect(guess.status).toBe(429);
      expect(guess.headers.get('retry-after')).toMatch(/^[0-9]+$/);
      const metrics = await (
        await fetch(`${strict.base}/metrics`, { headers: bearer(strict.tokens.store) })
      ).text();
      expect(metrics).toMatch(/^sg_api_rate_limited_total\{key="token"\} [1-9]/m);
      expect(metrics).toMatch(/^sg_api_rate_limited_total\{key="ip"\} [1-9]/m);
    });
  });

  describe('400: schema validation', () => {
    const get = (path: string, headers: Record<string, string> = {}) =>
      fetch(`${api.base}${path}`, { headers });

    it('names the failing paths of a body, in the error shape', async () => {
      const tx = { ...transaction(4), lineItems: [{ ...transaction(4).lineItems[0], quantity: -1 }] };
      const pos = await post('/v1/pos/transactions', tx, bearer(api.tokens.lane1));
      expect(pos.status).toBe(400);
      const posBody = (await pos.json()) as { details: unknown[] };
      expect(posBody).toMatchObject({ error: 'GW_ERR_REQUEST_INVALID' });
      expect(posBody.details).toContainEqual(expect.objectContaining({ path: '/lineItems/0/quantity' }));

      const echo = await post('/v1/test/echo', { name: 'far-too-long', extra: 1 }, bearer(api.tokens.lane1));
      expect(echo.status).toBe(400);
      const echoBody = (await echo.json()) as { error: string; details: { path: string }[] };
      expect(echoBody.error).toBe('GW_ERR_REQUEST_INVALID');
      expect(echoBody.details.map((d) => d.path).sort()).toEqual(['/', '/count', '/name']);

      const meraki = await post(MERAKI_PATH, { ...merakiPost(), type: 'Zigbee' });
      expect(meraki.status).toBe(400);
      expect(((await meraki.json()) as { details: unknown[] }).details).toContainEqual(
        expect.objectContaining({ path: '/type' }),
      );

      const notJson = await post('/v1/test/echo', '{"name":', bearer(api.tokens.lane1));
      expect(notJson.status).toBe(400);
      expect(await notJson.json()).toMatchObject({
        error: 'GW_ERR_REQUEST_INVALID',
        details: [{ path: '/' }],
      });
    });

    it('every route has a schema for its query string and path parameters, every write route for its body', () => {
      const routes = apiRoutes(api.running.api as never);
      expect(routes.length).toBeGreaterThan(15);
      for (const r of routes) {
        const what = `${r.method} ${r.url}`;
        expect(r.schemas.querystring, what).toBe(true);
        if (r.url.includes(':')) expect(r.schemas.params, what).toBe(true);
        if (['POST', 'PUT', 'PATCH'].includes(r.method)) expect(r.schemas.body, what).toBe(true);
      }
    });

    it('a route that declares no schema takes no query parameters and only short printable ids as path parameters', async () => {
      const ok = await get('/v1/test/items/sku-42');
      expect(ok.status).toBe(200);
      expect(await ok.json()).toEqual({ params: { item: 'sku-42' }, query: {} });
      const cases: [string, string][] = [
        ['/v1/test/items/sku-42?loyaltyId=x', '/'],
        [`/v1/test/items/${'a'.repeat(65)}`, '/item'],
        ['/v1/test/items/two%20words', '/item'],
      ];
      for (const [path, failing] of cases) {
        const res = await get(path);
        expect(res.status, path).toBe(400);
        const body = (await res.json()) as { error: string; details: { path: string }[] };
        expect(body.error, path).toBe('GW_ERR_REQUEST_INVALID');
        expect(
          body.details.map((d) => d.path),
          path,
        ).toContain(failing);
      }
    });

    it('names the failing paths of a query string on every kind of route', async () => {
      const cases: [string, Record<string, string>, string][] = [
        ['/v1/status/events?limit=0', {}, '/limit'],
        ['/v1/status/events?after=x', {}, '/after'],
        ['/healthz?verbose=1', {}, '/'],
        ['/v1/offers?segment=not%20an%20id', bearer(api.tokens.lane1), '/segment/0'],
        ['/v1/events/stream?class=nope', bearer(api.tokens.kiosk), '/class/0'],
      ];
      for (const [path, headers, failing] of cases) {
        const res = await get(path, headers);
        expect(res.status, path).toBe(400);
        const body = (await res.json()) as { error: string; details: { path: string }[] };
        expect(body.error, path).toBe('GW_ERR_REQUEST_INVALID');
        expect(
          body.details.map((d: { path: string }) => d.path),
          path,
        ).toContain(failing);
      }
    });
  });

  describe('security headers', () => {
    const checkHeaders = (res: Response, what: string) => {
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(csp, what).toContain("default-src 'none'");
      expect(csp, what).toContain("script-src 'self'");
      expect(csp, what).toContain("frame-ancestors 'none'");
      expect(csp, what).not.toContain('unsafe-inline');
      expect(res.headers.get('x-content-type-options'), what).toBe('nosniff');
      expect(res.headers.get('referrer-policy'), what).toBe('no-referrer');
      expect(res.headers.get('x-frame-options'), what).toBe('DENY');
    };

    it('are on the page, its assets, the API, errors and the event stream', async () => {
      for (const path of ['/', '/assets/status.js', '/assets/status.css', '/docs', '/v1/status', '/nope']) {
        const res = await fetch(`${api.base}${path}`);
        checkHeaders(res, path);
        await res.arrayBuffer();
      }
      const denied = await post('/v1/pos/transactions', transaction(5));
      checkHeaders(denied, '401');
      const controller = new AbortController();
      const stream = await fetch(`${api.base}/v1/events/stream`, {
        headers: bearer(api.tokens.kiosk),
        signal: controller.signal,
      });
      expect(stream.headers.get('content-type')).toContain('text/event-stream');
      checkHeaders(stream, 'stream');
      controller.abort();
    });

    it('the page has no inline script or style, so the strict CSP holds', () => {
      for (const name of ['index.html', 'docs.html']) {
        const html = readFileSync(rootPath('src', 'status-page', name), 'utf8');
        const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
        expect(scripts.length, name).toBeGreaterThan(0);
        for (const [, attrs, body] of scripts) {
          expect(attrs, name).toMatch(/\bsrc="\/assets\/[a-z]+\.js"/);
          expect(body?.trim(), name).toBe('');
        }
        expect(html, name).not.toMatch(/<style\b|\sstyle=|\son[a-z]+=|javascript:/i);
      }
    });
  });
});
