import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withCheckDigit } from '../../simulators/barcodes.js';
import { DEMO_LOYALTY_ID, demoOffer, PersonalizationService } from '../../simulators/personalization.js';
import { newToken } from '../../simulators/pos-lane.js';
import { type Running, startGateway } from '../../src/cli/run.js';
import { validateConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/logger.js';
import type { OfferMessage } from '../../src/offers/schema.js';
import { testConfig } from '../helpers/config.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const TOKEN = newToken();
const POS_ONLY = newToken();
const GTIN = withCheckDigit('501234567890');
const OTHER_GTIN = withCheckDigit('871234500001');

describe('offers cache: personalization → Mosquitto → gateway → GET /v1/offers', () => {
  let broker: Mosquitto;
  let dir: ReturnType<typeof tmpDir>;
  let running: Running | undefined;
  let url: string;
  let personalization: PersonalizationService;

  const first = demoOffer(DEMO_LOYALTY_ID, GTIN, 1);

  const startGw = async (waitConnected = true) => {
    const tokensFile = join(dir.path, 'tokens');
    writeFileSync(tokensFile, `${TOKEN} lane-1 pos,offers\n${POS_ONLY} lane-2 pos\n`, { mode: 0o600 });
    const r = validateConfig(
      testConfig({
        dir: dir.path,
        mqttUrl: broker.url,
        extra: { api: { tokensFile }, offers: { enabled: true } },
      }),
    );
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    running = await startGateway(r.config, { log: silentLogger() });
    const addr = running.api?.addresses()[0] as { address: string; port: number };
    url = `http://${addr.address}:${addr.port}`;
    if (waitConnected) await waitFor(() => running?.gateway.uplink.isConnected, 'gateway connected');
  };

  const lookup = async (query: string, token = TOKEN) => {
    const res = await fetch(`${url}/v1/offers?${query}`, { headers: { authorization: `Bearer ${token}` } });
    return { status: res.status, body: (await res.json()) as { offers?: OfferMessage[]; error?: string } };
  };
  const versions = async (query: string) =>
    ((await lookup(query)).body.offers ?? []).map((o) => `${o.offerId}@${o.version}`);
  const status = async () =>
    (
      (await (await fetch(`${url}/v1/status`)).json()) as {
        modules: { offers: { cached: number; messages: Record<string, number> } };
      }
    ).modules.offers;

  beforeAll(async () => {
    broker = await Mosquitto.start();
    dir = tmpDir('sg-offers-');
    personalization = new PersonalizationService({ url: broker.url, storeId: '0421', protocolVersion: 5 });
    await personalization.start();
    // Published before the gateway ever connects: retained, so it still arrives.
    await personalization.publish('welcome-back', first);
    await startGw();
  });
  afterAll(async () => {
    await running?.stop();
    await personalization?.stop();
    await broker?.dispose();
    dir?.cleanup();
  });

  it('receives an offer published before it connected and serves it by loyalty id and GTIN', async () => {
    await waitFor(
      async () => (await versions(`loyaltyId=${DEMO_LOYALTY_ID}`)).length === 1,
      'the retained offer',
    );
    const r = await lookup(`loyaltyId=${DEMO_LOYALTY_ID}&gtin=${GTIN}`);
    expect(r.status).toBe(200);
    expect(r.body.offers).toEqual([first]);
    expect((await lookup(`loyaltyId=${DEMO_LOYALTY_ID}&gtin=${OTHER_GTIN}`)).body.offers).toEqual([]);
    expect((await lookup('loyaltyId=someone-else')).body.offers).toEqual([]);
  });

  it('replaces an offer with a later version and ignores an earlier one', async () => {
    await personalization.publish('welcome-back', demoOffer(DEMO_LOYALTY_ID, OTHER_GTIN, 3));
    await waitFor(
      async () => (await versions(`loyaltyId=${DEMO_LOYALTY_ID}`))[0] === 'welcome-back@3',
      'version 3',
    );
    await personalization.publish('welcome-back', demoOffer(DEMO_LOYALTY_ID, GTIN, 2));
    await waitFor(async () => ((await status()).messages.stale ?? 0) >= 1, 'the stale version counted');
    expect(await versions(`loyaltyId=${DEMO_LOYALTY_ID}`)).toEqual(['welcome-back@3']);
    expect(await versions(`loyaltyId=${DEMO_LOYALTY_ID}&gtin=${OTHER_GTIN}`)).toEqual(['welcome-back@3']);
  });

  it('removes a retracted offer (versioned message, and empty retained payload)', async () => {
    await personalization.publish('seg-coffee', {
      offerId: 'seg-coffee',
      version: 1,
      segment: 'coffee-lovers',
      discount: { kind: 'amount', value: 1, currency: 'EUR' },
      validUntil: new Date(Date.now() + 3600_000).toISOString(),
    });
    await waitFor(async () => (await versions('segment=coffee-lovers')).length === 1, 'the segment offer');
    await personalization.retract('seg-coffee', 2);
    await waitFor(async () => (await versions('segment=coffee-lovers')).length === 0, 'the retraction');
    await personalization.retract('welcome-back');
    await waitFor(
      async () => (await versions(`loyaltyId=${DEMO_LOYALTY_ID}`)).length === 0,
      'the empty retained payload',
    );
    expect((await status()).messages.retracted).toBe(2);
  });

  it('drops an offer when it expires', async () => {
    await personalization.publish('flash', { ...demoOffer('LOY-FLASH', GTIN, 1, 4000), offerId: 'flash' });
    await waitFor(async () => (await versions('loyaltyId=LOY-FLASH')).length === 1, 'the flash offer');
    await waitFor(
      async () => (await versions('loyaltyId=LOY-FLASH')).length === 0,
      'the flash offer to expire',
    );
  });

  it('counts and logs invalid messages, and keeps running', async () => {
    const before = await status();
    await personalization.publish('broken', 'not json at all');
    // The offer id must match the topic.
    await personalization.publish('mismatch', demoOffer('LOY-X', GTIN, 1));
    await personalization.publish('bad-gtin', {
      ...demoOffer('LOY-X', GTIN, 1),
      offerId: 'bad-gtin',
      gtins: ['12345670'.replace(/0$/, '1')],
    });
    await waitFor(
      async () => ((await status()).messages.invalid ?? 0) >= (before.messages.invalid ?? 0) + 3,
      '3 invalid',
    );
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/^sg_offers_messages_total\{result="invalid"\} [3-9]/m);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  });

  it('answers 400 for a bad query, 401 without a token, 403 without the offers scope', async () => {
    const bad = await lookup('gtin=4006381333932');
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('/gtin');
    expect(JSON.stringify(bad.body)).toContain('needs loyaltyId or segment');
    expect((await fetch(`${url}/v1/offers?loyaltyId=x`)).status).toBe(401);
    expect((await lookup('loyaltyId=x', POS_ONLY)).status).toBe(403);
  });

  it('answers from SQLite with the broker stopped, and after a gateway restart', async () => {
    await personalization.publish('offline', { ...demoOffer('LOY-OFF', GTIN, 1), offerId: 'offline' });
    await waitFor(async () => (await versions('loyaltyId=LOY-OFF')).length === 1, 'the offline offer');
    await broker.stop();
    await waitFor(() => !running?.gateway.uplink.isConnected, 'the gateway to notice');
    expect(await versions(`loyaltyId=LOY-OFF&gtin=${GTIN}`)).toEqual(['offline@1']);
    await running?.stop();
    await startGw(false); // the gateway starts without its broker
    expect(await versions(`loyaltyId=LOY-OFF&gtin=${GTIN}`)).toEqual(['offline@1']);
    await broker.restart();
  });
});
