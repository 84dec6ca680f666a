import { openSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { connectAsync } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { summarize } from '../../src/api/recent-events.js';
import { type Running, startGateway } from '../../src/cli/run.js';
import type { EventClass } from '../../src/events/catalog.js';
import { createLogger, type Logger } from '../../src/logger.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';
import {
  CLIENT_MAC,
  fullApiConfig,
  MERAKI_PATH,
  MERAKI_SECRET,
  merakiPost,
  transaction,
} from '../integration/api-security-gateway.js';

/*
 * No personal data or secret in the logs: the gateway's own logger (createLogger, with
 * REDACT_PATHS) at trace level writes to a file, and everything it wrote is searched for bearer
 * tokens, authorization headers, loyalty ids, MAC addresses and the Meraki secret.
 */

const LOYALTY = 'LOY-0421-REDACT-7781';
const HASH = '9f8e7d6c5b4a39281706f5e4';
const MAC_FORMS = (mac: string) => [mac, mac.toUpperCase(), mac.replace(/:/g, ''), mac.replace(/:/g, '-')];

/** A logger exactly as `store-gateway run` makes it, at trace, into a file. */
function fileLogger(path: string): { log: Logger; text: () => Promise<string> } {
  // The logger's stream owns the descriptor (and closes it when the process ends).
  const fd = openSync(path, 'a');
  const log = createLogger({ level: 'trace', destination: fd });
  return {
    log,
    // Writes are asynchronous: a marker line written last shows that everything before it is in the file.
    text: async () => {
      const marker = `end-of-test-${Math.random().toString(36).slice(2)}`;
      log.info({ marker }, 'end of test');
      return waitFor(() => {
        const text = readFileSync(path, 'utf8');
        return text.includes(marker) ? text : '';
      }, 'the log file to be written');
    },
  };
}

function expectClean(text: string, secrets: string[]): void {
  for (const secret of secrets) {
    expect(text.includes(secret), `the log contains ${JSON.stringify(secret.slice(0, 12))}…`).toBe(false);
  }
}

describe('REDACT_PATHS: the backstop for objects bound to a log line', () => {
  const dir = tmpDir('sg-redact-unit-');
  afterAll(() => dir.cleanup());

  it('censors tokens, authorization headers, bodies, loyalty ids, MACs and secrets wherever they are bound', async () => {
    const file = fileLogger(join(dir.path, 'unit.log'));
    const token = 'tok_4f9d0c2b7e1a5d3c8b6f0e2a';
    file.log.trace({ req: { headers: { authorization: `Bearer ${token}`, cookie: `sid=${token}` } } }, 'a');
    file.log.debug({ req: { query: { access_token: token } } }, 'b');
    file.log.info({ headers: { authorization: `Bearer ${token}` }, token, access_token: token }, 'c');
    file.log.warn({ client: { token, mac: CLIENT_MAC, clientMac: CLIENT_MAC, address: CLIENT_MAC } }, 'd');
    file.log.error(
      { tx: { loyaltyAccountId: LOYALTY }, offer: { loyaltyId: LOYALTY }, loyaltyId: LOYALTY },
      'e',
    );
    file.log.info(
      { body: { secret: MERAKI_SECRET }, post: { secret: MERAKI_SECRET }, password: 'pw-9c1e77' },
      'f',
    );
    file.log.info(
      { req: { body: { loyaltyAccountId: LOYALTY } }, request: { body: { anything: token } } },
      'g',
    );
    file.log.info(
      { signin: { accountId: LOYALTY, mac: CLIENT_MAC }, accountId: LOYALTY, link: { loyaltyHash: HASH } },
      'h',
    );
    const text = await file.text();
    expect(text.split('\n').filter(Boolean)).toHaveLength(9);
    expect(text).toContain('[redacted]');
    expectClean(text, [token, LOYALTY, HASH, MERAKI_SECRET, 'pw-9c1e77', ...MAC_FORMS(CLIENT_MAC)]);
  });
});

describe('the status page summaries (GET /v1/status/events) name what happened, never who', () => {
  const SUBJECT = 'w-5f2a9c0d1e7b';
  const row = (seq: number, cls: EventClass, type: string, data: Record<string, unknown>) =>
    summarize([
      seq,
      cls,
      'lane-1',
      JSON.stringify({ type, time: '2026-11-24T10:00:00.000Z', data: { deviceId: 'lane-1', ...data } }),
    ]);

  it('shows a product scan, but a loyalty card, a payment token or a URL only by what it is', () => {
    const product = row(1, 'scan', 'retail.scan.v1', { symbology: 'ean-13', text: '4006381333931' });
    expect(product.summary).toBe('ean-13 4006381333931');
    const summaries = [
      row(2, 'scan', 'retail.scan.v1', {
        symbology: 'qr',
        text: LOYALTY,
        category: 'loyalty',
        scheme: 'app',
      }),
      row(3, 'scan', 'retail.scan.v1', {
        symbology: 'code-128',
        text: LOYALTY,
        category: 'unknown',
        sensitive: 'loyalty-id',
      }),
      row(4, 'scan', 'retail.scan.v1', {
        symbology: 'qr',
        text: '[withheld]',
        category: 'payment-token',
        tokenRef: 'pt_0a1b2c3d4e5f',
      }),
      row(5, 'scan', 'retail.scan.v1', {
        symbology: 'qr',
        text: `https://app.example.com/l/${LOYALTY}?t=${LOYALTY}`,
        category: 'url',
      }),
      row(6, 'pos', 'retail.pos.transaction.v1', {
        sequenceNumber: 7,
        loyaltyAccountId: LOYALTY,
        operatorId: 'op-17',
        lineItems: [],
        totals: { grand: 2.49 },
        currencyCode: 'EUR',
      }),
      row(7, 'scan', 'retail.loyalty.identified.v1', {
        lane: 'lane-1',
        method: 'card',
        scheme: 'store-card',
        loyaltyId: LOYALTY,
      }),
      row(8, 'scan', 'retail.loyalty.identified.v1', {
        lane: 'lane-1',
        method: 'app',
        scheme: 'app',
        loyaltyHash: 'a1b2c3d4e5f60718',
      }),
      row(9, 'presence', 'retail.presence.identified.v1', {
        subject: SUBJECT,
        source: 'wifi',
        method: 'wifi-signin',
        loyaltyId: LOYALTY,
      }),
      row(10, 'presence', 'retail.presence.enter.v1', {
        subject: SUBJECT,
        subjectType: 'device',
        source: 'wifi',
        zone: 'produce',
        loyaltyId: LOYALTY,
      }),
      row(11, 'scan', 'retail.coupon.scanned.v1', {
        lane: 'lane-1',
        format: 'gs1-8112',
        raw: '0123456789012345',
        valid: true,
        serialNumber: '123456789',
      }),
    ];
    expect(summaries.map((s) => s.summary)).toEqual([
      'qr [loyalty] app',
      'code-128 [unknown]',
      'qr [payment-token]',
      'qr [url] https://app.example.com',
      '#7 0 lines 2.49 EUR',
      'card store-card at lane-1',
      'app app at lane-1',
      'wifi wifi-signin',
      'device wifi → produce',
      'gs1-8112 valid at lane-1',
    ]);
    expectClean(JSON.stringify(summaries), [
      LOYALTY,
      SUBJECT,
      'a1b2c3d4e5f60718',
      'pt_0a1b2c3d',
      'op-17',
      '123456789',
    ]);
  });
});

describe('no personal data in the logs of a gateway at trace level, across the API', () => {
  const dir = tmpDir('sg-redact-');
  let broker: Mosquitto;
  let running: Running;
  let file: ReturnType<typeof fileLogger>;
  let base: string;
  let tokens: ReturnType<typeof fullApiConfig>['tokens'];

  beforeAll(async () => {
    broker = await Mosquitto.start();
    const setup = fullApiConfig(dir.path, broker.url, { log: { level: 'trace' } });
    tokens = setup.tokens;
    file = fileLogger(join(dir.path, 'gateway.log'));
    running = await startGateway(setup.config, { log: file.log });
    base = `http://127.0.0.1:${((running.api as NonNullable<typeof running.api>).server.address() as AddressInfo).port}`;
    const gateway = running.gateway;
    await waitFor(() => gateway.status().uplink?.connected, 'uplink connected', 20_000);
  });

  afterAll(async () => {
    await running?.stop();
    await broker?.dispose();
    dir.cleanup();
  });

  it('logs none of them while it takes, refuses and publishes POS, offers, stream, Meraki and status requests', async () => {
    const call = (path: string, init: RequestInit = {}) =>
      fetch(`${base}${path}`, init).then(async (r) => ({ status: r.status, body: await r.text() }));
    const postJson = (path: string, body: unknown, headers: Record<string, string> = {}) =>
      call(path, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
    const auth = (t: string) => ({ authorization: `Bearer ${t}` });
    const guessed = 'guessed-token-8e2d41f7c9a0b3d5';

    // POS: accepted, replayed, refused for token, lane and schema, unreadable JSON quoting personal data.
    const tx = transaction(1, LOYALTY);
    expect(
      (await postJson('/v1/pos/transactions', tx, { ...auth(tokens.lane1), 'idempotency-key': 'k-1' }))
        .status,
    ).toBe(202);
    expect(
      (await postJson('/v1/pos/transactions', tx, { ...auth(tokens.lane1), 'idempotency-key': 'k-1' }))
        .status,
    ).toBe(202);
    expect((await postJson('/v1/pos/transactions', tx, auth(guessed))).status).toBe(401);
    expect(
      (await postJson('/v1/pos/transactions', { ...tx, workstationId: 'lane-2' }, auth(tokens.lane1))).status,
    ).toBe(403);
    expect(
      (
        await postJson(
          '/v1/pos/transactions',
          { ...tx, loyaltyAccountId: LOYALTY.repeat(5) },
          auth(tokens.lane1),
        )
      ).status,
    ).toBe(400);
    expect(
      (await postJson('/v1/pos/transactions', { ...tx, [LOYALTY]: CLIENT_MAC }, auth(tokens.lane1))).status,
    ).toBe(400);
    expect(
      (await postJson('/v1/pos/transactions', `{"loyaltyAccountId":"${LOYALTY}",`, auth(tokens.lane1)))
        .status,
    ).toBe(400);
    // Offers and stream: the loyalty id in a query string, the token as ?access_token=.
    expect((await call(`/v1/offers?loyaltyId=${LOYALTY}`, { headers: auth(tokens.lane1) })).status).toBe(200);
    expect(
      (await call(`/v1/offers?loyaltyId=${LOYALTY}&gtin=123`, { headers: auth(tokens.lane1) })).status,
    ).toBe(400);
    const controller = new AbortController();
    const stream = await fetch(`${base}/v1/events/stream?access_token=${tokens.kiosk}&lastEventId=0`, {
      signal: controller.signal,
    });
    expect(stream.status).toBe(200);
    controller.abort();
    expect((await call(`/v1/events/stream?access_token=${guessed}`)).status).toBe(401);
    // Meraki: accepted, wrong secret, invalid; a MAC in the URL of an unknown path.
    expect((await postJson(MERAKI_PATH, merakiPost())).status).toBe(200);
    expect((await postJson(MERAKI_PATH, merakiPost('wrong-secret-0000'))).status).toBe(403);
    expect((await postJson(MERAKI_PATH, { ...merakiPost(), type: CLIENT_MAC })).status).toBe(400);
    expect((await call(`/v1/clients/${CLIENT_MAC}`, { headers: auth(tokens.store) })).status).toBe(404);
    // Status page data, with a token it does not need.
    expect((await call('/v1/status', { headers: auth(tokens.status) })).status).toBe(200);
    expect((await call('/v1/status/events', { headers: auth(tokens.status) })).status).toBe(200);

    // Offers from personalization naming the shopper: one refused (it is logged), one kept.
    const central = await connectAsync(broker.url);
    const offer = { offerId: 'o-1', version: 1, loyaltyId: LOYALTY, validUntil: '2099-01-01T00:00:00Z' };
    await central.publishAsync(
      'stores/0421/offers/o-1',
      JSON.stringify({ ...offer, discount: { kind: 'gift' } }),
      {
        qos: 1,
      },
    );
    await central.publishAsync(
      'stores/0421/offers/o-2',
      JSON.stringify({ ...offer, offerId: 'o-2', discount: { kind: 'percent', value: 5 } }),
      {
        qos: 1,
      },
    );
    await central.endAsync();
    await waitFor(
      () => (running.gateway.status().modules.offers as { cached: number }).cached === 1,
      'offer cached',
    );

    // The transaction (with the loyalty id) reaches the broker, so the uplink logged its work too.
    const gateway = running.gateway;
    await waitFor(() => gateway.status().buffer?.rows === 0, 'buffer drained', 20_000);

    const text = await file.text();
    const lines = text.split('\n').filter(Boolean);
    const levels = new Set(lines.map((l) => (JSON.parse(l) as { level: number }).level));
    // The log is real: trace and debug lines were written.
    expect(levels.has(10) || levels.has(20)).toBe(true);
    const entries = lines.map((l) => JSON.parse(l) as { msg: string; route?: string; status?: number });
    // Every request left a debug line with its route pattern and status (the URL is never logged).
    const requests = entries.filter((e) => e.msg === 'api request');
    expect(requests.length).toBe(16); // 17 requests; the open event stream is answered outside fastify
    expect(requests).toContainEqual(expect.objectContaining({ route: '/v1/offers', status: 200 }));
    expect(requests).toContainEqual(expect.objectContaining({ route: '(no route)', status: 404 }));
    expect(entries.some((e) => e.msg === 'offer message refused')).toBe(true);
    expectClean(text, [
      tokens.lane1,
      tokens.kiosk,
      tokens.status,
      tokens.store,
      guessed,
      'Bearer',
      LOYALTY,
      MERAKI_SECRET,
      ...MAC_FORMS(CLIENT_MAC),
    ]);
  });
});
