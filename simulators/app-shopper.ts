import { randomBytes } from 'node:crypto';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { encodeCoupon8110 } from '../src/barcode/coupon.js';
import { hmacTag } from '../src/identity/checks.js';
import type { MatchRule } from '../src/identity/config.js';
import { offersPrefix } from '../src/offers/module.js';
import type { OfferMessage } from '../src/offers/schema.js';
import type { PosTransaction } from '../src/pos/schema.js';
import { sleep } from '../src/util/sleep.js';
import { type SimBarcode, withCheckDigit } from './barcodes.js';
import { CaptivePortal } from './captive-portal.js';
import { DEMO_GTIN_PRODUCTS, DEMO_LOYALTY_ID, demoOffer } from './personalization.js';
import { newToken, type PostResult, type SimulatedPosLane } from './pos-lane.js';
import type { SimulatedSerialScanner } from './serial-scanner.js';
import type { Shopper } from './shoppers.js';

/*
 * What a shopper's phone and wallet show a scanner: the loyalty app's rotating code, a plastic
 * loyalty card, a payment code from a wallet app, a coupon. Real shapes, so the gateway's real
 * classification runs on them in tests and in the demo.
 */

/**
 * The loyalty app's code: `SGAPP1.{loyaltyId}.{unix seconds}.{tag}`, the tag being the first 22
 * characters of base64url(HMAC-SHA256(key, everything before it)). The app shows a fresh one every
 * minute; the gateway refuses a tag that does not verify or a code older than the rule's maxAgeSec.
 */
export function appToken(key: Buffer, loyaltyId: string, nowMs: number): string {
  const signed = `SGAPP1.${loyaltyId}.${Math.floor(nowMs / 1000)}.`;
  return `${signed}${hmacTag(key, signed, 'base64url', 22)}`;
}

/** The identity rule that reads `appToken` codes. */
export function appTokenRule(keyFile: string, maxAgeSec = 300): MatchRule {
  return {
    name: 'loyalty-app',
    method: 'app',
    pattern: '^SGAPP1\\.(?<id>[A-Za-z0-9-]{1,40})\\.(?<ts>[0-9]{10})\\.(?<mac>[A-Za-z0-9_-]{22})$',
    check: 'hmac',
    hmac: { keyFile, encoding: 'base64url', maxAgeSec },
  };
}

/**
 * A plastic loyalty card: an EAN-13 with an in-store prefix (GS1 prefixes 20–29 are for use inside
 * a company), here "29", then the account number, then the GS1 check digit.
 */
export function loyaltyCard(account: number): string {
  return withCheckDigit(`29${String(account).padStart(10, '0')}`);
}

/** The identity rule for `loyaltyCard` (a right check digit required). */
export const LOYALTY_CARD_RULE: MatchRule = {
  name: 'store-card',
  method: 'card',
  symbologies: ['ean-13', 'unknown'],
  prefixes: ['29'],
  lengths: [13],
  check: 'gs1',
  pattern: '^29(?<id>[0-9]{10})[0-9]$',
};

const tlv = (tag: number, value: Buffer) => Buffer.concat([Buffer.from([tag, value.length]), value]);

/**
 * A wallet's payment QR code in EMVCo consumer-presented mode: the Payload Format Indicator
 * (85 05 "CPV01") and an Application Template (61) with the AID (4F), the Track 2 Equivalent Data
 * (57: PAN, separator D, expiry YYMM, service code) and the PAN (5A), base64 encoded as the QR
 * carries it. A test card number keeps it harmless.
 */
export function emvPaymentQr(pan = '4761739001010119', expiryYymm = '2912'): string {
  const digits = `${pan}D${expiryYymm}201`;
  const track2 = Buffer.from(digits.length % 2 ? `${digits}F` : digits, 'hex');
  const panBcd = Buffer.from(pan.length % 2 ? `${pan}F` : pan, 'hex');
  const app = Buffer.concat([
    tlv(0x4f, Buffer.from('A0000000031010', 'hex')),
    tlv(0x57, track2),
    tlv(0x5a, panBcd),
  ]);
  return Buffer.concat([tlv(0x85, Buffer.from('CPV01')), tlv(0x61, app)]).toString('base64');
}

/** A paper coupon as GS1 DataBar Expanded carries it: AI (8110), $1.00 off two items of family 120. */
export function demoCoupon(offerCode = '424242', expiration = '2029-12-31'): string {
  return `8110${encodeCoupon8110({
    companyPrefix: '0614141',
    offerCode,
    saveValue: 100,
    primaryPurchase: { requirement: 2, requirementCode: 0, familyCode: '120' },
    expirationDate: expiration,
  })}`;
}

/** What the lane learns from GET /v1/identity/lanes/{lane}. */
export interface LaneLookup {
  lane: string;
  identified: { loyaltyId: string; method: string; scheme: string; identifiedAt: string } | null;
  offers: OfferMessage[];
}

/** The lane asks the gateway who was identified at it (bearer scope offers, the lane's own token). */
export async function laneIdentity(apiUrl: string, lane: string, token: string): Promise<LaneLookup> {
  const res = await fetch(`${apiUrl}/v1/identity/lanes/${lane}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  if (res.status !== 200)
    throw new Error(`GET /v1/identity/lanes/${lane}: ${res.status} ${await res.text()}`);
  return (await res.json()) as LaneLookup;
}

/** The lane is done with the shopper: the next one starts anonymous. */
export async function clearLaneIdentity(apiUrl: string, lane: string, token: string): Promise<number> {
  const res = await fetch(`${apiUrl}/v1/identity/lanes/${lane}`, {
    method: 'DELETE',
    headers: { authorization: `Bearer ${token}` },
  });
  await res.arrayBuffer();
  return res.status;
}

export interface IdentifiedCheckout {
  loyaltyId: string | undefined;
  offers: OfferMessage[];
  tx: PosTransaction;
  result: PostResult;
}

/**
 * One shopper who pays with the app: her app code is scanned at the lane, the lane learns who she
 * is from the gateway and fetches her offers, her paper coupon is scanned, and the transaction the
 * lane posts carries her loyalty id and the offer's discount.
 */
export async function identifiedCheckout(o: {
  apiUrl: string;
  scanner: SimulatedSerialScanner;
  lane: SimulatedPosLane;
  key: Buffer;
  loyaltyId: string;
  signal?: AbortSignal;
}): Promise<IdentifiedCheckout> {
  const laneId = o.lane.options.workstationId;
  const token = o.lane.options.token;
  await o.scanner.scan({ text: appToken(o.key, o.loyaltyId, Date.now()), aim: ']Q1' });
  let who: LaneLookup['identified'] = null;
  for (let i = 0; i < 50 && !who; i++) {
    who = (await laneIdentity(o.apiUrl, laneId, token)).identified;
    if (!who && !(await sleep(100, o.signal))) break;
  }
  const offers = who ? await o.lane.fetchOffers(who.loyaltyId) : [];
  await o.scanner.scan({ text: demoCoupon(), aim: ']e0' });
  const offered = offers.flatMap((x) => x.gtins ?? [])[0];
  const product = DEMO_GTIN_PRODUCTS.find((p) => p.text === offered) ?? DEMO_GTIN_PRODUCTS[0];
  const basket = [product, DEMO_GTIN_PRODUCTS[1]].filter((p): p is SimBarcode => p !== undefined);
  const tx = o.lane.buildTransaction(basket, who?.loyaltyId, offers);
  const result = await o.lane.post(tx);
  await clearLaneIdentity(o.apiUrl, laneId, token);
  return { loyaltyId: who?.loyaltyId, offers, tx, result };
}

/**
 * Central's CRM in the demo: when a shopper signs in on the store Wi-Fi (retail.presence.identified.v1
 * with her loyalty id), it greets her with a personal offer, pushed to the store's offers topic, so
 * the lane finds it when she checks out.
 */
export class CrmGreeter {
  private client: MqttClient | undefined;
  private readonly greeted = new Set<string>();
  greetings = 0;

  constructor(readonly options: { url: string; storeId: string }) {}

  async start(): Promise<void> {
    const client = await connectAsync(this.options.url, {
      protocolVersion: 4,
      clientId: `crm-${this.options.storeId}-${process.pid}`,
      reconnectPeriod: 1000,
      log: () => {},
    });
    this.client = client;
    client.on('message', (_topic, payload) => {
      type Ev = { type?: string; data?: { loyaltyId?: string } };
      let parsed: Ev | Ev[];
      try {
        parsed = JSON.parse(payload.toString()) as Ev | Ev[];
      } catch {
        return;
      }
      for (const ev of Array.isArray(parsed) ? parsed : [parsed]) {
        const id = ev?.type === 'retail.presence.identified.v1' ? ev.data?.loyaltyId : undefined;
        if (id === undefined || this.greeted.has(id)) continue;
        this.greeted.add(id);
        void this.greet(id).catch(() => this.greeted.delete(id));
      }
    });
    await client.subscribeAsync(`stores/${this.options.storeId}/gateways/+/events/presence/#`, { qos: 1 });
  }

  private async greet(loyaltyId: string): Promise<void> {
    const product =
      DEMO_GTIN_PRODUCTS[this.greeted.size % DEMO_GTIN_PRODUCTS.length] ?? DEMO_GTIN_PRODUCTS[0];
    if (!product || !this.client) return;
    const offerId = `wifi-welcome-${loyaltyId}`.replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 64);
    const offer = {
      ...demoOffer(loyaltyId, product.text, 1),
      offerId,
      title: 'Thanks for joining our Wi-Fi',
    };
    await this.client.publishAsync(`${offersPrefix(this.options.storeId)}${offerId}`, JSON.stringify(offer), {
      qos: 1,
      retain: true,
    });
    this.greetings++;
  }

  async stop(): Promise<void> {
    await this.client?.endAsync();
  }
}

/** The phone of the shopper who pays with the app in the demo (a randomized Wi-Fi MAC). */
export const DEMO_APP_SHOPPER_MAC = 'da:a4:5e:00:ff:42';

/**
 * The identification step of `store-gateway demo`: the config it needs (identity rules, the app's
 * key, the lane map, the Wi-Fi sign-in receiver and the captive portal's token), then a shopper
 * who pays with the app every `everyMs` at one lane, and the captive portal signing shoppers in.
 * The first time she comes she signs in on the store Wi-Fi (with consent) as she walks in.
 */
export function identityJourney(opts: {
  dir: string;
  tokensFile: string;
  /** Store scanners by lane: `lane-N-scanner` is POS lane `lane-N`. */
  scanners: readonly { id: string; scanner: SimulatedSerialScanner }[];
  everyMs?: number;
}) {
  const key = randomBytes(32);
  const keyFile = join(opts.dir, 'loyalty-app.key');
  writeFileSync(keyFile, key, { mode: 0o600 });
  const portalToken = newToken();
  appendFileSync(opts.tokensFile, `${portalToken} captive-portal identity\n`);
  const laneOf = (scannerId: string) => scannerId.replace(/-scanner$/, '');
  // The lane whose scanner sends AIM identifiers, where there is one.
  const at = opts.scanners[1] ?? opts.scanners[0];
  const abort = new AbortController();
  let loop: Promise<void> | undefined;
  let portal: CaptivePortal | undefined;
  let crm: CrmGreeter | undefined;
  const checkouts: IdentifiedCheckout[] = [];
  return {
    checkouts,
    sections: {
      identity: {
        enabled: true,
        lanes: Object.fromEntries(opts.scanners.map((s) => [s.id, laneOf(s.id)])),
        loyalty: [LOYALTY_CARD_RULE, appTokenRule(keyFile)],
        wifi: { enabled: true },
      },
    },
    start(o: {
      apiUrl: string;
      /** The broker central uses: with it, central's CRM greets a signed-in shopper with an offer. */
      brokerUrl?: string;
      posLanes: () => readonly SimulatedPosLane[];
      shoppers: () => readonly Shopper[];
      onError?: (err: unknown) => void;
    }): void {
      portal = new CaptivePortal({ apiUrl: o.apiUrl, token: portalToken });
      if (o.brokerUrl) crm = new CrmGreeter({ url: o.brokerUrl, storeId: '0421' });
      const crmReady = crm?.start().catch((err: unknown) => o.onError?.(err));
      portal.runDemo({ shoppers: o.shoppers, everyMs: 20_000, onError: o.onError });
      const signal = abort.signal;
      loop = (async () => {
        // The first shopper comes soon after the store opens, then one every everyMs.
        let wait = 1000;
        let signedIn = false;
        while (await sleep(wait, signal)) {
          wait = opts.everyMs ?? 15_000;
          const lane = o.posLanes().find((l) => l.options.workstationId === laneOf(at?.id ?? ''));
          if (!signedIn && portal) {
            signedIn = true;
            await crmReady;
            await portal
              .signIn({
                accountId: DEMO_LOYALTY_ID,
                mac: DEMO_APP_SHOPPER_MAC,
                consent: true,
                consentScopes: ['presence', 'offers'],
              })
              .catch((err: unknown) => {
                if (!signal.aborted) o.onError?.(err);
              });
            // She walks to the lane while central's CRM pushes her welcome offer (up to 3 s).
            for (let i = 0; crm && lane && i < 30; i++) {
              const offers = await lane.fetchOffers(DEMO_LOYALTY_ID).catch(() => []);
              if (offers.some((x) => x.offerId.startsWith('wifi-welcome')) || !(await sleep(100, signal)))
                break;
            }
          }
          if (signal.aborted) break;
          if (!at || !lane || !at.scanner.plugged) continue;
          await identifiedCheckout({
            apiUrl: o.apiUrl,
            scanner: at.scanner,
            lane,
            key,
            loyaltyId: DEMO_LOYALTY_ID,
            signal,
          })
            .then((c) => checkouts.push(c))
            .catch((err: unknown) => {
              if (!signal.aborted) o.onError?.(err);
            });
        }
      })();
    },
    notes(): string[] {
      return [
        `  identity    every ${(opts.everyMs ?? 15_000) / 1000} s a shopper pays with the app at ${at ? laneOf(at.id) : '-'} (the first time she also signs in on Wi-Fi): app code scanned, the lane fetches her offer, a DataBar coupon is scanned, the transaction carries her loyalty id`,
        '              the captive portal signs app shoppers in on Wi-Fi (every other one consents): events/presence identified, then presence events with her loyalty id',
      ];
    },
    async stop(): Promise<void> {
      abort.abort();
      await loop;
      await portal?.stop();
      await crm?.stop();
    },
    /** What the identification step did, one line for the demo's closing summary. */
    summary(): string {
      const posted = checkouts.filter((c) => c.result.status === 202);
      const withId = posted.filter((c) => c.tx.loyaltyAccountId === c.loyaltyId && c.loyaltyId).length;
      const offers = checkouts.filter((c) => c.offers.length > 0).length;
      const signins = portal?.results ?? [];
      const linked = signins.filter((r) => r.status === 202).length;
      return `identity: ${checkouts.length} app checkouts, ${withId} transactions with her loyalty id, ${offers} with her offer; ${linked} Wi-Fi sign-ins linked, ${signins.length - linked} not`;
    },
  };
}
