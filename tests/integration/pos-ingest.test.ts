import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_GTIN_PRODUCTS } from '../../simulators/personalization.js';
import { newToken, SimulatedPosLane } from '../../simulators/pos-lane.js';
import { type Running, startGateway } from '../../src/cli/run.js';
import { validateConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { silentLogger } from '../../src/logger.js';
import { AnswerStore } from '../../src/pos/idempotency.js';
import { transactionHash } from '../../src/pos/ingest.js';
import { posDbPath } from '../../src/pos/module.js';
import type { PosTransaction } from '../../src/pos/schema.js';
import { testConfig } from '../helpers/config.js';
import { freePort } from '../helpers/ports.js';
import { tmpDir } from '../helpers/tmp.js';

const LANE1 = newToken();
const LANE2 = newToken();
const KIOSK = newToken();
const BACKOFFICE = newToken();

function config(dir: string, mqttUrl: string, extra: Record<string, unknown> = {}): Config {
  const tokensFile = join(dir, 'tokens');
  writeFileSync(
    tokensFile,
    `${LANE1} lane-1 pos,offers\n${LANE2} lane-2 pos\n${KIOSK} kiosk offers,stream\n${BACKOFFICE} *\n`,
    { mode: 0o600 },
  );
  const r = validateConfig(
    testConfig({
      dir,
      mqttUrl,
      extra: { api: { tokensFile }, pos: { enabled: true, maxBodyBytes: '16KiB' }, ...extra },
    }),
  );
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.config;
}

/** A gateway without a reachable broker: POS ingest must not need one. */
async function start(dir: string, deps: { freeDiskBytes?: (dir: string) => number } = {}) {
  const running = await startGateway(config(dir, `mqtt://127.0.0.1:${await freePort()}`), {
    log: silentLogger(),
    ...deps,
  });
  const addr = running.api?.addresses()[0] as { address: string; port: number };
  return { running, url: `http://${addr.address}:${addr.port}` };
}

const lane = (url: string, token = LANE1, workstationId = 'lane-1', startSequence = 1) =>
  new SimulatedPosLane({ apiUrl: url, token, storeId: '0421', workstationId, startSequence });

function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  return fetch(`${url}/v1/pos/transactions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${LANE1}`, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

const lastSeq = (r: Running) => r.gateway.outbox.lastCommittedSeq;

describe('POST /v1/pos/transactions', () => {
  let dir: ReturnType<typeof tmpDir>;
  let running: Running;
  let url: string;
  let tx: PosTransaction;

  beforeAll(async () => {
    dir = tmpDir('sg-pos-');
    ({ running, url } = await start(dir.path));
    tx = lane(url).buildTransaction(DEMO_GTIN_PRODUCTS.slice(0, 3), 'LOY-1', []);
  });
  afterAll(async () => {
    await running?.stop();
    dir?.cleanup();
  });

  it('answers 202 after the commit, with the event id and seq; the event carries the transaction', async () => {
    const t = { ...tx, sequenceNumber: 100 };
    const before = lastSeq(running);
    const res = await post(url, t);
    expect(res.status).toBe(202);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      status: 'accepted',
      seq: before + 1,
      storeId: '0421',
      workstationId: 'lane-1',
      sequenceNumber: 100,
    });
    const [row] = running.gateway.outbox.read(before, 10);
    expect(row?.[0]).toBe(before + 1);
    expect(row?.[1]).toBe('pos');
    expect(row?.[2]).toBe('lane-1');
    const event = JSON.parse(row?.[3] ?? '{}');
    expect(event.id).toBe(body.eventId);
    expect(event.type).toBe('retail.pos.transaction.v1');
    expect(event.source).toBe('/stores/0421/gateways/gw-test/devices/lane-1');
    expect(event.data).toEqual(t);
  });

  it('20 concurrent identical requests: one event, 20 identical answers', async () => {
    const t = { ...tx, sequenceNumber: 200 };
    const before = lastSeq(running);
    const answers = await Promise.all(
      Array.from({ length: 20 }, async () => {
        const res = await post(url, t, { 'idempotency-key': 'k-200' });
        return {
          status: res.status,
          body: await res.text(),
          replayed: res.headers.get('idempotent-replayed'),
        };
      }),
    );
    expect(new Set(answers.map((a) => a.status))).toEqual(new Set([202]));
    expect(new Set(answers.map((a) => a.body)).size).toBe(1);
    expect(answers.filter((a) => a.replayed === null)).toHaveLength(1);
    expect(lastSeq(running)).toBe(before + 1);
    const rows = running.gateway.outbox.read(before, 100);
    expect(rows.map((r) => r[1])).toEqual(['pos']);
  });

  it('a retry later returns the first answer byte for byte, by natural key or by Idempotency-Key', async () => {
    const t = { ...tx, sequenceNumber: 300 };
    const first = await post(url, t, { 'idempotency-key': 'k-300' });
    const firstBody = await first.text();
    const before = lastSeq(running);
    // Same key, same body.
    const byKey = await post(url, t, { 'idempotency-key': 'k-300' });
    // No key: the natural key (store, workstation, business day, sequence number) matches.
    const byNaturalKey = await post(url, t);
    // Same body with its keys in another order is the same transaction.
    const reordered = Object.fromEntries(Object.entries(t).reverse());
    const byContent = await post(url, reordered, { 'idempotency-key': 'k-300-b' });
    for (const res of [byKey, byNaturalKey, byContent]) {
      expect(res.status).toBe(202);
      expect(res.headers.get('idempotent-replayed')).toBe('true');
      expect(await res.text()).toBe(firstBody);
    }
    expect(lastSeq(running)).toBe(before);
  });

  it('409 when a key comes back with a different body; no event', async () => {
    const t = { ...tx, sequenceNumber: 400 };
    expect((await post(url, t, { 'idempotency-key': 'k-400' })).status).toBe(202);
    const before = lastSeq(running);
    const sameKey = await post(url, { ...t, sequenceNumber: 401 }, { 'idempotency-key': 'k-400' });
    expect(sameKey.status).toBe(409);
    expect(await sameKey.json()).toMatchObject({ error: 'GW_ERR_IDEMPOTENCY_CONFLICT' });
    const sameNumber = await post(url, { ...t, operatorId: 'someone-else' });
    expect(sameNumber.status).toBe(409);
    expect(lastSeq(running)).toBe(before);
  });

  it('the same sequence number on another business day is another transaction', async () => {
    const t = { ...tx, sequenceNumber: 500 };
    expect((await post(url, t)).status).toBe(202);
    const nextDay = await post(url, { ...t, businessDayDate: '2031-01-02' });
    expect(nextDay.status).toBe(202);
    expect(nextDay.headers.get('idempotent-replayed')).toBeNull();
  });

  it('400 lists every failing path, and nothing is buffered', async () => {
    const before = lastSeq(running);
    const bad = {
      ...tx,
      sequenceNumber: -1,
      currencyCode: 'euro',
      endDateTime: 'yesterday',
      cardNumber: '4111111111111111',
      lineItems: [
        { ...tx.lineItems[0], quantity: 0 },
        { ...tx.lineItems[1], type: 'void' },
      ],
    };
    delete (bad as Record<string, unknown>).totals;
    const res = await post(url, bad);
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: string; details: { path: string; message: string }[] };
    expect(body.error).toBe('GW_ERR_REQUEST_INVALID');
    const paths = body.details.map((d) => d.path);
    for (const p of [
      '/sequenceNumber',
      '/currencyCode',
      '/endDateTime',
      '/totals',
      '/lineItems/0/quantity',
      '/',
    ]) {
      expect(paths, p).toContain(p);
    }
    expect(body.details.find((d) => d.path === '/')?.message).toBe('unknown key "cardNumber"');
    // The body is never echoed back (it may hold a card or loyalty number by mistake).
    expect(JSON.stringify(body)).not.toContain('4111111111111111');

    const semantic = await post(url, {
      ...tx,
      storeId: '9999',
      lineItems: [
        tx.lineItems[0],
        { ...tx.lineItems[1], sequenceNumber: 1 },
        { ...tx.lineItems[2], type: 'void' },
      ],
    });
    expect(semantic.status).toBe(400);
    const issues = ((await semantic.json()) as { details: { path: string }[] }).details.map((d) => d.path);
    expect(issues).toEqual(['/storeId', '/lineItems/1/sequenceNumber', '/lineItems/2/voidedLine']);

    const notJson = await post(url, '{"storeId": "0421",');
    expect(notJson.status).toBe(400);
    expect(await notJson.json()).toMatchObject({
      error: 'GW_ERR_REQUEST_INVALID',
      message: 'body is not valid JSON',
    });
    expect(lastSeq(running)).toBe(before);
  });

  it('401 without a valid bearer token, 403 for another lane or without the pos scope', async () => {
    const t = { ...tx, sequenceNumber: 600 };
    const none = await fetch(`${url}/v1/pos/transactions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(t),
    });
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="store-gateway"');
    expect(await none.json()).toMatchObject({ error: 'GW_ERR_UNAUTHORIZED' });
    const wrong = await post(url, t, { authorization: `Bearer ${newToken()}` });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toContain('error="invalid_token"');
    const basic = await post(url, t, { authorization: 'Basic dXNlcjpwYXNz' });
    expect(basic.status).toBe(401);

    const otherLane = await post(url, t, { authorization: `Bearer ${LANE2}` });
    expect(otherLane.status).toBe(403);
    expect(await otherLane.json()).toMatchObject({ error: 'GW_ERR_FORBIDDEN' });
    const kiosk = await post(url, t, { authorization: `Bearer ${KIOSK}` });
    expect(kiosk.status).toBe(403);
    // A token named * may post for any lane.
    const backoffice = await post(
      url,
      { ...t, workstationId: 'lane-9' },
      { authorization: `Bearer ${BACKOFFICE}` },
    );
    expect(backoffice.status).toBe(202);

    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/^sg_api_auth_failures_total\{reason="missing"\} [1-9]/m);
    expect(metrics).toMatch(/^sg_api_auth_failures_total\{reason="lane"\} [1-9]/m);
  });

  it('413 for a body over pos.maxBodyBytes, 415 for a body that is not JSON', async () => {
    const big = {
      ...tx,
      sequenceNumber: 700,
      lineItems: Array.from({ length: 200 }, (_, i) => ({ ...tx.lineItems[0], sequenceNumber: i + 1 })),
    };
    const tooLarge = await post(url, big);
    expect(tooLarge.status).toBe(413);
    expect(await tooLarge.json()).toMatchObject({ error: 'GW_ERR_BODY_TOO_LARGE' });
    const text = await post(url, 'storeId=0421', { 'content-type': 'text/plain' });
    expect(text.status).toBe(415);
    const form = await post(url, 'a=1', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(form.status).toBe(415);
    expect(await form.json()).toMatchObject({ error: 'GW_ERR_MEDIA_TYPE' });
  });

  it('shows its counters in /v1/status', async () => {
    const status = (await (await fetch(`${url}/v1/status`)).json()) as { modules: Record<string, unknown> };
    expect(status.modules.pos).toMatchObject({ tokens: 4 });
    const pos = status.modules.pos as { accepted: number; replayed: number; storedAnswers: number };
    expect(pos.accepted).toBeGreaterThanOrEqual(6);
    expect(pos.replayed).toBeGreaterThanOrEqual(22);
    expect(pos.storedAnswers).toBeGreaterThanOrEqual(pos.accepted);
  });
});

describe('POS ingest durability', () => {
  const dirs: ReturnType<typeof tmpDir>[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) d.cleanup();
  });

  it('503 with Retry-After while the buffer refuses; a retry once there is room is accepted once', async () => {
    const dir = tmpDir('sg-pos-');
    dirs.push(dir);
    let free = 10 * 1024 ** 3;
    const { running, url } = await start(dir.path, { freeDiskBytes: () => free });
    try {
      const t = lane(url).buildTransaction(DEMO_GTIN_PRODUCTS.slice(0, 2), undefined, []);
      free = 0; // under the free-disk floor
      // The disk is checked at most once a second; wait until the outbox has seen it.
      let refused: Response | undefined;
      for (let i = 0; i < 100 && !refused; i++) {
        const res = await post(url, { ...t, sequenceNumber: 10_000 + i });
        if (res.status === 503) refused = res;
        else await new Promise((r) => setTimeout(r, 50));
      }
      expect(refused?.status).toBe(503);
      expect(refused?.headers.get('retry-after')).toBe('5');
      expect(await refused?.json()).toMatchObject({ error: 'GW_ERR_BUFFER_FULL' });

      const before = lastSeq(running);
      const again = await post(url, { ...t, sequenceNumber: 1 }, { 'idempotency-key': 'full-1' });
      expect(again.status).toBe(503);
      free = 10 * 1024 ** 3;
      let ok: Response | undefined;
      for (let i = 0; i < 100 && !ok; i++) {
        const res = await post(url, { ...t, sequenceNumber: 1 }, { 'idempotency-key': 'full-1' });
        if (res.status === 202) ok = res;
        else await new Promise((r) => setTimeout(r, 50));
      }
      expect(ok?.status).toBe(202);
      expect(ok?.headers.get('idempotent-replayed')).toBeNull();
      const pos = running.gateway.outbox.read(before, 100).filter((r) => r[1] === 'pos');
      expect(pos).toHaveLength(1);
      const metrics = await (await fetch(`${url}/metrics`)).text();
      expect(metrics).toMatch(/^sg_pos_transactions_total\{result="refused"\} [1-9]/m);
    } finally {
      await running.stop();
    }
  });

  it('the first answer survives a restart', async () => {
    const dir = tmpDir('sg-pos-');
    dirs.push(dir);
    let { running, url } = await start(dir.path);
    const t = lane(url).buildTransaction(DEMO_GTIN_PRODUCTS.slice(0, 2), 'LOY-7', []);
    let first: string;
    try {
      const res = await post(url, t);
      expect(res.status).toBe(202);
      first = await res.text();
    } finally {
      await running.stop();
    }
    ({ running, url } = await start(dir.path));
    try {
      const before = lastSeq(running);
      const res = await post(url, t);
      expect(res.status).toBe(202);
      expect(await res.text()).toBe(first);
      expect(lastSeq(running)).toBe(before);
    } finally {
      await running.stop();
    }
  });

  it('a transaction left half-done by a crash is resent with the same event id', async () => {
    const dir = tmpDir('sg-pos-');
    dirs.push(dir);
    const { running: first, url: firstUrl } = await start(dir.path);
    const t = lane(firstUrl).buildTransaction(DEMO_GTIN_PRODUCTS.slice(0, 2), undefined, []);
    const ev = first.gateway.factory.create('retail.pos.transaction.v1', 'lane-1', t, Date.now());
    await first.stop();
    // What a process that died between writing its pending row and the commit leaves behind.
    const store = new AnswerStore(posDbPath(config(dir.path, 'mqtt://127.0.0.1:1')), {
      log: silentLogger(),
      now: Date.now,
    });
    const key = `n:lane-1/${t.businessDayDate}/${t.sequenceNumber}`;
    store.begin([key], transactionHash(t), ev, Date.now());
    expect(store.find([key])).toMatchObject({ status: null, answer: null, event: ev });
    store.close();

    const { running, url } = await start(dir.path);
    try {
      const before = lastSeq(running);
      const conflicting = await post(url, { ...t, operatorId: 'other' });
      expect(conflicting.status).toBe(409);
      const res = await post(url, t);
      expect(res.status).toBe(202);
      const body = (await res.json()) as { eventId: string; seq: number };
      expect(body.eventId).toBe(ev.id);
      const rows = running.gateway.outbox.read(before, 10);
      expect(rows).toHaveLength(1);
      expect(JSON.parse(rows[0]?.[3] ?? '{}')).toMatchObject({ id: ev.id, time: ev.time, data: t });
    } finally {
      await running.stop();
    }
  });
});
