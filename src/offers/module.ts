import { dirname, join } from 'node:path';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest, FastifySchema } from 'fastify';
import { bearerAuth, openTokenFile, type TokenFile } from '../api/auth.js';
import { errorResponses, validatedInHandler } from '../api/schemas.js';
import type { Config } from '../config/schema.js';
import { GatewayError } from '../errors.js';
import type { Gateway } from '../gateway.js';
import type { Logger } from '../logger.js';
import type { GatewayModule } from '../modules.js';
import { GTIN_PATTERN } from '../pos/schema.js';
import type { SchemaIssue } from '../schema/ajv.js';
import { gtinValid, Offer, type Parsed, parseOfferMessage } from './schema.js';
import { type ApplyResult, type LookupQuery, OfferStore } from './store.js';

const PURGE_EVERY_MS = 60_000;
const FLUSH_MS = 20;
const FLUSH_ROWS = 1000;
/** Offer messages larger than this are refused unread. */
export const MAX_OFFER_BYTES = 64 * 1024;
const MAX_SEGMENTS = 20;
const LOYALTY_ID = /^.{1,64}$/su;
const ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const GTIN = new RegExp(GTIN_PATTERN);

/**
 * The lookup's schema, for the OpenAPI document (docs/API.md); `lookupQuery` checks the same rules
 * (and the GTIN check digit, and that loyaltyId or segment is given).
 */
const LOOKUP_SCHEMA: FastifySchema = {
  summary: 'Offers for a shopper (loyaltyId) or segments, optionally for one item (gtin)',
  tags: ['offers'],
  querystring: Type.Object(
    {
      loyaltyId: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
      segment: Type.Optional(
        Type.Array(Type.String({ pattern: ID.source }), {
          maxItems: MAX_SEGMENTS,
          description: 'repeat the parameter for several segments',
        }),
      ),
      gtin: Type.Optional(Type.String({ pattern: GTIN_PATTERN, description: 'GTIN-8/12/13/14' })),
    },
    { additionalProperties: false },
  ),
  response: {
    200: Type.Object({ offers: Type.Array(Offer) }),
    ...errorResponses('GW_ERR_BUFFER_CLOSED'),
  },
};

/** The topic prefix personalization publishes a store's offers under. */
export const offersPrefix = (storeId: string) => `stores/${storeId}/offers/`;

/** Service (gateway.provide) through which other modules read the cache (identity warms it). */
export const OFFERS_LOOKUP_SERVICE = 'offers.lookup';
export interface OffersLookup {
  /** Offers valid now, as GET /v1/offers answers them (their JSON). */
  lookup(q: LookupQuery): string[];
}

export function offersDbPath(config: Config): string {
  return config.offers.dbPath ?? join(dirname(config.buffer.path), 'offers.db');
}

/** Reads and checks the query of GET /v1/offers; throws GW_ERR_REQUEST_INVALID with every problem. */
export function lookupQuery(query: Record<string, unknown>): LookupQuery {
  const issues: SchemaIssue[] = [];
  const one = (name: string): string | undefined => {
    const v = query[name];
    if (v === undefined) return undefined;
    if (typeof v === 'string') return v;
    issues.push({ path: `/${name}`, message: 'must be given once' });
    return undefined;
  };
  const loyaltyId = one('loyaltyId');
  const gtin = one('gtin');
  const rawSegments = query.segment;
  const segments =
    rawSegments === undefined ? [] : (Array.isArray(rawSegments) ? rawSegments : [rawSegments]).map(String);
  if (loyaltyId !== undefined && !LOYALTY_ID.test(loyaltyId)) {
    issues.push({ path: '/loyaltyId', message: 'must be 1–64 characters' });
  }
  if (segments.length > MAX_SEGMENTS) issues.push({ path: '/segment', message: `at most ${MAX_SEGMENTS}` });
  segments.forEach((s, i) => {
    if (!ID.test(s)) issues.push({ path: `/segment/${i}`, message: 'is not a valid segment id' });
  });
  if (gtin !== undefined && (!GTIN.test(gtin) || !gtinValid(gtin))) {
    issues.push({ path: '/gtin', message: 'must be a GTIN-8/12/13/14 with a correct check digit' });
  }
  if (loyaltyId === undefined && segments.length === 0) {
    issues.push({ path: '/', message: 'needs loyaltyId or segment' });
  }
  if (issues.length > 0) {
    throw new GatewayError(
      'GW_ERR_REQUEST_INVALID',
      `query is invalid: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
      { details: issues },
    );
  }
  return { loyaltyId, segments, gtin };
}

/**
 * The offers cache: keeps what personalization publishes on `stores/{store}/offers/{offerId}` in
 * SQLite and answers `GET /v1/offers` from it, so a lookup never waits on the WAN. A bad message is
 * counted and logged (topic and reason only), never thrown.
 */
export class OffersModule implements GatewayModule {
  readonly name = 'offers';
  private store: OfferStore | undefined;
  private tokens: TokenFile | undefined;
  private gateway: Gateway | undefined;
  private log: Logger | undefined;
  private purgeTimer: NodeJS.Timeout | undefined;
  private lastMessageAt: number | null = null;
  private readonly counts: Partial<Record<ApplyResult, number>> = {};
  private queue: { topic: string; offerId: string; parsed: Parsed | null }[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private readonly onMessage = (topic: string, payload: Buffer) => this.receive(topic, payload);

  constructor(private readonly config: Config) {}

  start(gateway: Gateway): void {
    const log = gateway.log.child({ component: 'offers' });
    this.gateway = gateway;
    this.log = log;
    if (this.config.offers.requireToken) {
      this.tokens = openTokenFile(this.config.api.tokensFile, 'offers.requireToken', {
        log,
        clock: gateway.clock,
      });
    }
    this.store = new OfferStore(offersDbPath(this.config), {
      maxOffers: this.config.offers.maxOffers,
      log,
      now: () => gateway.clock.now(),
    });
    this.purge();
    this.purgeTimer = setInterval(() => this.purge(), PURGE_EVERY_MS);
    gateway.provide(OFFERS_LOOKUP_SERVICE, {
      lookup: (q: LookupQuery) => this.store?.lookup(q) ?? [],
    } satisfies OffersLookup);
    this.purgeTimer.unref();
    gateway.uplink.on('message', this.onMessage);
    gateway.uplink.subscribe(`${offersPrefix(this.config.store.id)}#`, 1);
  }

  /**
   * Takes one MQTT message; never throws (it runs inside the uplink's client). Messages are checked
   * at once and written in batches: one transaction every FLUSH_MS, or at once when FLUSH_ROWS
   * wait, so a burst from personalization does not cost one fsync per offer.
   */
  receive(topic: string, payload: Buffer): void {
    const prefix = offersPrefix(this.config.store.id);
    if (!topic.startsWith(prefix) || !this.store) return;
    const offerId = topic.slice(prefix.length);
    let reason: string | undefined;
    if (!ID.test(offerId)) reason = 'topic must be stores/{store}/offers/{offerId}';
    else if (payload.length > MAX_OFFER_BYTES) reason = `payload over ${MAX_OFFER_BYTES} bytes`;
    if (reason !== undefined) {
      this.count('invalid', topic, reason);
      return;
    }
    let parsed: Parsed | null = null;
    if (payload.length > 0) {
      let value: unknown;
      try {
        value = JSON.parse(payload.toString('utf8'));
        parsed = parseOfferMessage(offerId, value);
      } catch {
        parsed = { kind: 'invalid', issues: [{ path: '/', message: 'is not JSON' }] };
      }
    }
    this.queue.push({ topic, offerId, parsed });
    if (this.queue.length >= FLUSH_ROWS) this.flush();
    else this.flushTimer ??= setTimeout(() => this.flush(), FLUSH_MS);
  }

  /** Writes what is queued, in one transaction. */
  flush(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0 || !this.store) return;
    let results: ApplyResult[];
    try {
      results = this.store.applyAll(batch.map((m) => [m.offerId, m.parsed] as const));
    } catch (err) {
      this.log?.error({ err, messages: batch.length }, 'offer messages could not be stored');
      results = batch.map(() => 'invalid');
    }
    batch.forEach((m, i) => {
      const parsed = m.parsed;
      const why =
        parsed?.kind === 'invalid'
          ? parsed.issues.map((x) => `${x.path}: ${x.message}`).join('; ')
          : undefined;
      this.count(results[i] as ApplyResult, m.topic, why);
    });
    this.gateway?.metrics.offersCached.set(this.store.size);
  }

  private count(result: ApplyResult, topic: string, reason?: string): void {
    this.lastMessageAt = this.gateway?.clock.now() ?? null;
    this.counts[result] = (this.counts[result] ?? 0) + 1;
    this.gateway?.metrics.offerMessages.inc({ result });
    // Topic and reason only: the payload may name a loyalty id.
    if (result === 'invalid') this.log?.warn({ topic, reason }, 'offer message refused');
    else if (result === 'full')
      this.log?.warn({ topic, max: this.config.offers.maxOffers }, 'offers cache is full');
    else this.log?.debug({ topic, result }, 'offer message');
  }

  private purge(): void {
    const n = this.store?.purge() ?? 0;
    if (n > 0) this.log?.debug({ purged: n }, 'expired offers purged');
    this.gateway?.metrics.offersCached.set(this.store?.size ?? 0);
  }

  routes(app: FastifyInstance): void {
    const gateway = this.gateway;
    if (!gateway) throw new Error('offers module not started');
    const onRequest = this.config.offers.requireToken
      ? bearerAuth({ tokens: this.tokens, scope: 'offers', metrics: gateway.metrics })
      : undefined;
    const route = { validatorCompiler: validatedInHandler, schema: LOOKUP_SCHEMA };
    app.get(
      '/v1/offers',
      { ...route, ...(onRequest ? { onRequest } : {}) },
      async (req: FastifyRequest, reply) => {
        const q = lookupQuery(req.query as Record<string, unknown>);
        const store = this.store;
        if (!store) throw new GatewayError('GW_ERR_BUFFER_CLOSED', 'the offers cache is closed');
        const offers = store.lookup(q);
        return reply
          .header('content-type', 'application/json; charset=utf-8')
          .header('cache-control', 'no-store')
          .send(`{"offers":[${offers.join(',')}]}`);
      },
    );
  }

  status(): unknown {
    return {
      cached: this.store?.size ?? 0,
      lastMessageAt: this.lastMessageAt === null ? null : new Date(this.lastMessageAt).toISOString(),
      messages: { ...this.counts },
    };
  }

  stop(): void {
    if (this.purgeTimer) clearInterval(this.purgeTimer);
    this.gateway?.uplink.off('message', this.onMessage);
    this.flush();
    this.store?.close();
    this.store = undefined;
  }
}

export async function createOffersModule(config: Config): Promise<GatewayModule | null> {
  return config.offers?.enabled ? new OffersModule(config) : null;
}
