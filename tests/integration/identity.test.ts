import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  appToken,
  appTokenRule,
  clearLaneIdentity,
  demoCoupon,
  identifiedCheckout,
  LOYALTY_CARD_RULE,
  laneIdentity,
  loyaltyCard,
} from '../../simulators/app-shopper.js';
import { CaptivePortal } from '../../simulators/captive-portal.js';
import { merakiBody } from '../../simulators/meraki.js';
import { DEMO_LOYALTY_ID, demoOffer, PersonalizationService } from '../../simulators/personalization.js';
import { newToken, SimulatedPosLane } from '../../simulators/pos-lane.js';
import { SimulatedSerialScanner } from '../../simulators/serial-scanner.js';
import { DEMO_STORE_MAP, registryConfig, zonesConfig } from '../../simulators/store-map.js';
import { type Running, startGateway } from '../../src/cli/run.js';
import { validateConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/logger.js';
import { Collector } from '../helpers/collector.js';
import { testConfig } from '../helpers/config.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Identification end to end with real parts: a serial scanner on a real PTY, the real gateway, a
 * real Mosquitto, personalization publishing the shopper's offer, a POS lane, a captive portal and
 * Meraki posts over the local API.
 */
describe('shopper identity: scanner and Wi-Fi → gateway → Mosquitto', () => {
  const KEY = randomBytes(32);
  const MAC = '3c:a4:5e:77:01:02';
  let broker: Mosquitto;
  let dir: ReturnType<typeof tmpDir>;
  let collector: Collector;
  let running: Running | undefined;
  let scanner: SimulatedSerialScanner;
  let personalization: PersonalizationService;
  let apiUrl: string;
  const tokens = { lane2: newToken(), lane1: newToken(), portal: newToken() };

  beforeAll(async () => {
    broker = await Mosquitto.start();
    dir = tmpDir('sg-identity-');
    const keyFile = join(dir.path, 'app.key');
    writeFileSync(keyFile, KEY, { mode: 0o600 });
    const tokensFile = join(dir.path, 'tokens');
    writeFileSync(
      tokensFile,
      `${tokens.lane2} lane-2 pos,offers\n${tokens.lane1} lane-1 pos,offers\n${tokens.portal} captive-portal identity\n`,
      { mode: 0o600 },
    );
    writeFileSync(join(dir.path, 'validator'), 'v');
    writeFileSync(join(dir.path, 'secret'), 'meraki-secret');
    scanner = new SimulatedSerialScanner({
      linkPath: join(dir.path, 'lane-2-scanner'),
      framing: { suffix: '\r\n' },
      aim: true,
    });
    await scanner.plug();
    collector = await Collector.start(broker.url, { protocolVersion: 5 });
    const r = validateConfig(
      testConfig({
        dir: dir.path,
        mqttUrl: broker.url,
        devices: [
          { id: 'lane-2-scanner', kind: 'serial-scanner', path: scanner.options.linkPath, aim: true },
        ],
        extra: {
          api: { tokensFile },
          pos: { enabled: true },
          offers: { enabled: true },
          zones: zonesConfig(DEMO_STORE_MAP),
          registry: registryConfig(DEMO_STORE_MAP),
          wifi: {
            meraki: {
              enabled: true,
              validatorFile: join(dir.path, 'validator'),
              secretFile: join(dir.path, 'secret'),
            },
          },
          identity: {
            enabled: true,
            lanes: { 'lane-2-scanner': 'lane-2' },
            loyalty: [LOYALTY_CARD_RULE, appTokenRule(keyFile)],
            wifi: { enabled: true },
          },
        },
      }),
    );
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    running = await startGateway(r.config, { log: silentLogger() });
    const addr = running.api?.addresses()[0] as { address: string; port: number };
    apiUrl = `http://${addr.address}:${addr.port}`;
    personalization = new PersonalizationService({ url: broker.url, storeId: '0421', protocolVersion: 5 });
    await personalization.start();
    await personalization.publish('welcome-back', demoOffer(DEMO_LOYALTY_ID, '4006381333931', 1));
  });

  afterAll(async () => {
    await personalization?.stop();
    await running?.stop();
    await collector?.stop();
    await scanner?.unplug();
    await broker?.dispose();
    dir?.cleanup();
  });

  const events = (type: string) =>
    collector.unique(type).map((r) => r.event?.data as Record<string, unknown>);

  it('the app code at a lane: the scan, retail.loyalty.identified.v1, the lane learns who she is and gets her offer', async () => {
    await waitFor(
      async () =>
        (await laneIdentity(apiUrl, 'lane-2', tokens.lane2).catch(() => null)) !== null &&
        (await fetch(`${apiUrl}/v1/offers?loyaltyId=${DEMO_LOYALTY_ID}`, {
          headers: { authorization: `Bearer ${tokens.lane2}` },
        }).then(async (res) => ((await res.json()) as { offers: unknown[] }).offers.length > 0)),
      'the offer in the gateway’s cache',
    );
    const token = appToken(KEY, DEMO_LOYALTY_ID, Date.now());
    await scanner.scan({ text: token, aim: ']Q1' });
    await collector.waitForUnique(1, 'retail.loyalty.identified.v1');
    const scan = collector.unique('retail.scan.v1').find((r) => r.event?.data?.category === 'loyalty');
    expect(scan?.event?.data).toEqual({
      deviceId: 'lane-2-scanner',
      text: token,
      aim: ']Q1',
      symbology: 'qr',
      scanDataType: 204,
      category: 'loyalty',
      scheme: 'loyalty-app',
    });
    const identified = collector.unique('retail.loyalty.identified.v1')[0];
    expect(identified?.topic).toBe('stores/0421/gateways/gw-test/events/scan/lane-2-scanner');
    expect(identified?.issues).toEqual([]);
    expect(identified?.event?.data).toEqual({
      deviceId: 'lane-2-scanner',
      lane: 'lane-2',
      method: 'app',
      scheme: 'loyalty-app',
      loyaltyId: DEMO_LOYALTY_ID,
    });
    // The identified event follows its scan.
    expect((identified?.event?.seq as number) > (scan?.event?.seq as number)).toBe(true);

    const lane = await laneIdentity(apiUrl, 'lane-2', tokens.lane2);
    expect(lane.identified).toMatchObject({
      loyaltyId: DEMO_LOYALTY_ID,
      method: 'app',
      scheme: 'loyalty-app',
    });
    expect(lane.offers.map((o) => o.offerId)).toEqual(['welcome-back']);
    // Another lane's token may not read lane 2; a token without the offers scope may not either.
    expect(
      (
        await fetch(`${apiUrl}/v1/identity/lanes/lane-2`, {
          headers: { authorization: `Bearer ${tokens.lane1}` },
        })
      ).status,
    ).toBe(403);
    expect(
      (
        await fetch(`${apiUrl}/v1/identity/lanes/lane-2`, {
          headers: { authorization: `Bearer ${tokens.portal}` },
        })
      ).status,
    ).toBe(403);
    expect((await fetch(`${apiUrl}/v1/identity/lanes/lane-2`)).status).toBe(401);
    expect(await clearLaneIdentity(apiUrl, 'lane-2', tokens.lane2)).toBe(204);
    expect((await laneIdentity(apiUrl, 'lane-2', tokens.lane2)).identified).toBeNull();

    const metrics = await (await fetch(`${apiUrl}/metrics`)).text();
    expect(metrics).toMatch(/sg_identity_scans_total\{category="loyalty"\} [1-9]/);
    await waitFor(
      async () =>
        /sg_identity_offers_warmed_total\{result="offers"\} 1/.test(
          await (await fetch(`${apiUrl}/metrics`)).text(),
        ),
      'the offers warmed',
    );
  });

  it('the whole checkout: app code, offer fetched by the lane, coupon scanned, transaction with her loyalty id', async () => {
    const lane = new SimulatedPosLane({
      apiUrl,
      token: tokens.lane2,
      storeId: '0421',
      workstationId: 'lane-2',
      startSequence: 100,
    });
    const checkout = await identifiedCheckout({
      apiUrl,
      scanner,
      lane,
      key: KEY,
      loyaltyId: DEMO_LOYALTY_ID,
    });
    expect(checkout.loyaltyId).toBe(DEMO_LOYALTY_ID);
    expect(checkout.offers.map((o) => o.offerId)).toEqual(['welcome-back']);
    expect(checkout.result.status).toBe(202);
    expect(checkout.tx.lineItems.some((l) => l.discounts?.some((d) => d.offerId === 'welcome-back'))).toBe(
      true,
    );

    await waitFor(() => events('retail.coupon.scanned.v1').length > 0, 'the coupon event');
    expect(events('retail.coupon.scanned.v1')[0]).toEqual({
      deviceId: 'lane-2-scanner',
      lane: 'lane-2',
      format: 'gs1-8110',
      raw: demoCoupon().slice(4),
      valid: true,
      companyPrefix: '0614141',
      offerCode: '424242',
      saveValue: 100,
      primaryPurchase: { requirement: 2, requirementCode: 0, familyCode: '120' },
      expirationDate: '2029-12-31',
    });
    const couponScan = collector.unique('retail.scan.v1').find((r) => r.event?.data?.category === 'coupon');
    expect(couponScan?.event?.data).toMatchObject({
      symbology: 'gs1-databar',
      gs1: { '8110': { raw: demoCoupon().slice(4) } },
    });

    const answer = JSON.parse(checkout.result.body) as { eventId: string };
    const tx = await waitFor(
      () => collector.unique('retail.pos.transaction.v1').find((r) => r.event?.id === answer.eventId),
      'the transaction at central',
    );
    expect(tx?.event?.data).toMatchObject({ workstationId: 'lane-2', loyaltyAccountId: DEMO_LOYALTY_ID });
    expect((await laneIdentity(apiUrl, 'lane-2', tokens.lane2)).identified).toBeNull();
  });

  it('a loyalty card and a payment token at the lane: identified, and withheld', async () => {
    await scanner.scan({ text: loyaltyCard(421000042), aim: ']E0' });
    await scanner.scan({ text: '4111111111111111', aim: ']Q1' });
    await waitFor(
      () => events('retail.scan.v1').some((d) => d.category === 'payment-token'),
      'the payment scan',
    );
    await waitFor(() => events('retail.loyalty.identified.v1').some((d) => d.method === 'card'), 'the card');
    expect(events('retail.loyalty.identified.v1').find((d) => d.method === 'card')).toMatchObject({
      loyaltyId: '0421000042',
    });
    const payment = events('retail.scan.v1').find((d) => d.category === 'payment-token');
    expect(payment).toEqual({
      deviceId: 'lane-2-scanner',
      text: '[payment-token]',
      aim: ']Q1',
      symbology: 'qr',
      scanDataType: 204,
      category: 'payment-token',
      scheme: 'pan',
      sensitive: 'payment-token',
      tokenRef: expect.stringMatching(/^pt_[0-9a-f]{16}$/),
    });
  });

  it('Wi-Fi sign-in: without consent nothing; with consent the identified event, then her presence events carry the loyalty id', async () => {
    const portal = new CaptivePortal({ apiUrl, token: tokens.portal });
    const declined = await portal.signIn({ accountId: DEMO_LOYALTY_ID, mac: MAC, consent: false });
    expect(declined).toEqual({ status: 200, body: { linked: false, reason: 'no-consent' } });
    const lane = new CaptivePortal({ apiUrl, token: tokens.lane2 });
    expect((await lane.signIn({ accountId: 'x', mac: MAC, consent: true })).status).toBe(403);
    const bad = await portal.signIn({ accountId: DEMO_LOYALTY_ID, mac: 'not-a-mac', consent: true });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).not.toContain('not-a-mac');

    const ok = await portal.signIn({
      accountId: DEMO_LOYALTY_ID,
      mac: MAC,
      consent: true,
      consentScopes: ['presence'],
    });
    expect(ok).toMatchObject({
      status: 202,
      body: { linked: true, subject: expect.stringMatching(/^[0-9a-f]{16}$/) },
    });
    await collector.waitForUnique(1, 'retail.presence.identified.v1');
    const identified = collector.unique('retail.presence.identified.v1');
    expect(identified).toHaveLength(1);
    expect(identified[0]?.topic).toBe('stores/0421/gateways/gw-test/events/presence/presence');
    expect(identified[0]?.event?.data).toMatchObject({
      subject: ok.body.subject,
      source: 'wifi',
      method: 'wifi-signin',
      randomized: false,
      consentScopes: ['presence'],
      loyaltyId: DEMO_LOYALTY_ID,
    });

    const ap = DEMO_STORE_MAP.accessPoints[3]?.mac as string;
    const post = merakiBody(
      [
        { mac: MAC, position: [15, 12], rssi: { [ap]: 45 }, time: Date.now() },
        { mac: '3c:a4:5e:77:09:09', position: [15, 12], rssi: { [ap]: 45 }, time: Date.now() },
      ],
      { secret: 'meraki-secret', type: 'WiFi' },
    );
    const res = await fetch(`${apiUrl}/v1/wifi/meraki`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(post),
    });
    expect(res.status).toBe(200);
    await waitFor(() => events('retail.presence.enter.v1').length >= 2, 'both phones entering');
    const enters = events('retail.presence.enter.v1');
    expect(enters.find((d) => d.subject === ok.body.subject)).toMatchObject({
      source: 'wifi',
      loyaltyId: DEMO_LOYALTY_ID,
    });
    expect(enters.find((d) => d.subject !== ok.body.subject)).not.toHaveProperty('loyaltyId');
    const status = (await running?.gateway.status())?.modules.identity as Record<string, unknown>;
    expect(status).toMatchObject({ links: 1, signins: { linked: 1, 'no-consent': 1, invalid: 1 } });
  });

  it('every event central received is valid against its published schema', () => {
    const all = collector.unique();
    expect(all.length).toBeGreaterThan(10);
    expect(all.filter((r) => r.issues.length > 0)).toEqual([]);
    expect(collector.consumer.counts.gaps).toBe(0);
  });
});
