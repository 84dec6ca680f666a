import { connectAsync, type MqttClient } from 'mqtt';
import { offersPrefix } from '../src/offers/module.js';
import type { OfferMessage } from '../src/offers/schema.js';
import { sleep } from '../src/util/sleep.js';
import { DEMO_PRODUCTS } from './barcodes.js';

/** The loyalty shopper of the demo journey. */
export const DEMO_LOYALTY_ID = 'LOY-0421-000042';

/** Products of the demo catalogue with a plain GTIN (not a GS1 element string or a URL). */
export const DEMO_GTIN_PRODUCTS = DEMO_PRODUCTS.filter((p) => /^[0-9]{8,14}$/.test(p.text));

export interface PersonalizationOptions {
  url: string;
  storeId: string;
  protocolVersion?: 4 | 5;
  clientId?: string;
}

/**
 * A small reference personalization service: it publishes offers for one store the way central
 * would, retained and with QoS 1 on `stores/{store}/offers/{offerId}`, so a gateway that connects
 * later still gets every current offer, and retracts them with an empty retained message (which
 * also clears the broker's copy) or with a versioned `retracted: true` message.
 */
export class PersonalizationService {
  private client: MqttClient | undefined;
  private loop: Promise<void> | undefined;
  private readonly abort = new AbortController();
  published = 0;

  constructor(readonly options: PersonalizationOptions) {}

  async start(): Promise<void> {
    this.client = await connectAsync(this.options.url, {
      protocolVersion: this.options.protocolVersion ?? 4,
      clientId: this.options.clientId ?? `personalization-${this.options.storeId}-${process.pid}`,
      reconnectPeriod: 1000,
      log: () => {},
    });
  }

  topic(offerId: string): string {
    return `${offersPrefix(this.options.storeId)}${offerId}`;
  }

  /** Publishes an offer, or any payload (tests send broken ones), retained with QoS 1. */
  async publish(offerId: string, payload: OfferMessage | Record<string, unknown> | string): Promise<void> {
    if (!this.client) throw new Error('personalization service not started');
    const body = typeof payload === 'string' ? payload : JSON.stringify(payload);
    await this.client.publishAsync(this.topic(offerId), body, { qos: 1, retain: true });
    this.published++;
  }

  /** Withdraws an offer: with a version, a `retracted: true` message; without, an empty retained one. */
  async retract(offerId: string, version?: number): Promise<void> {
    if (!this.client) throw new Error('personalization service not started');
    const body = version === undefined ? '' : JSON.stringify({ offerId, version, retracted: true });
    await this.client.publishAsync(this.topic(offerId), body, { qos: 1, retain: true });
  }

  /**
   * The demo journey. With `on: 'timer'` the loyalty shopper gets a personal offer on one product
   * now and a new version (another product, a larger discount) every `everyMs`. With
   * `on: 'presence'` it acts as central would: it watches the store's presence events and, when
   * the loyalty app's tag enters a zone, pushes her the next version (at most one per `everyMs`).
   * The app itself tells central whose phone it is; the gateway only ever reports the tag.
   */
  runDemo(
    opts: { loyaltyId?: string; everyMs?: number; validForMs?: number; on?: 'timer' | 'presence' } = {},
  ): void {
    const signal = this.abort.signal;
    const loyaltyId = opts.loyaltyId ?? DEMO_LOYALTY_ID;
    const everyMs = opts.everyMs ?? 20_000;
    let version = 0;
    const push = async () => {
      version++;
      const product = DEMO_GTIN_PRODUCTS[(version - 1) % DEMO_GTIN_PRODUCTS.length];
      if (product)
        await this.publish('welcome-back', demoOffer(loyaltyId, product.text, version, opts.validForMs));
    };
    if (opts.on === 'presence') {
      const client = this.client;
      if (!client) throw new Error('personalization service not started');
      let last = Number.NEGATIVE_INFINITY;
      client.on('message', (_topic, payload) => {
        type Presence = { type?: string; data?: { tag?: string } };
        let parsed: Presence | Presence[];
        try {
          parsed = JSON.parse(payload.toString());
        } catch {
          return;
        }
        // A single event, or a batch (a JSON array) while the gateway catches up on a backlog.
        const events = Array.isArray(parsed) ? parsed : [parsed];
        const entered = events.some(
          (event) => event?.type === 'retail.presence.enter.v1' && event.data?.tag === 'loyalty-app',
        );
        if (!entered || Date.now() - last < everyMs || signal.aborted) return;
        last = Date.now();
        push().catch(() => {});
      });
      this.loop = client
        .subscribeAsync(`stores/${this.options.storeId}/gateways/+/events/presence/#`, { qos: 1 })
        .then(() => {});
      return;
    }
    this.loop = (async () => {
      while (!signal.aborted) {
        await push().catch(() => {});
        if (!(await sleep(everyMs, signal))) return;
      }
    })();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
    await this.client?.endAsync();
  }
}

/** The demo's personal offer: 10 % off one product, more with each version. */
export function demoOffer(
  loyaltyId: string,
  gtin: string,
  version: number,
  validForMs = 3600_000,
): OfferMessage {
  return {
    offerId: 'welcome-back',
    version,
    loyaltyId,
    gtins: [gtin],
    discount: { kind: 'percent', value: Math.min(50, 10 + 5 * (version - 1)) },
    title: 'Welcome back: a treat on us',
    validUntil: new Date(Date.now() + validForMs).toISOString(),
  };
}
