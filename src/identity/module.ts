import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifySchema } from 'fastify';
import {
  bearerAuth,
  mayActFor,
  openTokenFile,
  principalOf,
  type TokenFile,
  writeEndpointErrors,
} from '../api/auth.js';
import { errorResponses, validatedInHandler } from '../api/schemas.js';
import type { Config } from '../config/schema.js';
import { GatewayError, isGatewayError } from '../errors.js';
import type { EventData } from '../events/catalog.js';
import type { Gateway } from '../gateway.js';
import type { Logger } from '../logger.js';
import type { GatewayModule } from '../modules.js';
import { OFFERS_LOOKUP_SERVICE, type OffersLookup } from '../offers/module.js';
import { Offer } from '../offers/schema.js';
import { SCAN_CLASSIFIER_SERVICE, type ScanClassifier } from '../pipeline/scan-enrich.js';
import {
  PSEUDONYMIZER_SERVICE,
  SUBJECT_IDENTITY_SERVICE,
  type SubjectIdentity,
  type SubjectLoyalty,
} from '../presence/identity-hook.js';
import { keyFilePath } from '../presence/module.js';
import { epochEndsAt, KeyStore } from '../privacy/key-store.js';
import { Pseudonymizer } from '../privacy/pseudonymizer.js';
import { readableByOthers, readKeyFile, StaticKeySource } from './keys.js';
import { LaneIdentities, LinkStore } from './links.js';
import { type CompiledRules, compileRules, identityConfigIssues } from './rules.js';
import { identifyScan, type ScanIdentityDeps, WITHHELD_TEXT } from './scan-identity.js';
import { WifiSigninBody } from './signin.js';
import { handleSignin, type SigninAnswer } from './signin-handler.js';

type ScanData = EventData<'retail.scan.v1'>;

const PURGE_EVERY_MS = 60_000;
const LANE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/*
 * The routes' schemas, for the OpenAPI document (docs/API.md). Input is validated in the handlers
 * (after the bearer token), as the other write endpoints do.
 */
const SIGNIN_SCHEMA: FastifySchema = {
  summary: 'A captive portal reports a Wi-Fi sign-in; with consent the phone is linked for the visit',
  description:
    'With consent and every identity.wifi.requiredScopes: 202 once retail.presence.identified.v1 is committed. Without: 200, nothing linked or kept (an earlier link of the device ends). The MAC is hashed on arrival and never kept (docs/IDENTITY.md).',
  tags: ['identity'],
  body: WifiSigninBody,
  response: {
    202: Type.Object(
      {
        linked: Type.Boolean(),
        subject: Type.String({ description: 'the phone’s presence pseudonym (source wifi)' }),
        epoch: Type.String({ description: 'key period of the subject' }),
        expiresAt: Type.String({ format: 'date-time', description: 'when the link ends at the latest' }),
        eventId: Type.String({ description: 'id of the retail.presence.identified.v1 event' }),
        seq: Type.Integer({ description: 'its seq' }),
      },
      { description: 'linked' },
    ),
    200: Type.Object(
      {
        linked: Type.Boolean(),
        reason: Type.String({ enum: ['no-consent', 'missing-scope'] }),
        unlinked: Type.Optional(Type.Boolean({ description: 'an earlier link of the device ended' })),
      },
      { description: 'not linked: no consent, or a required scope missing' },
    ),
    ...errorResponses('GW_ERR_BODY_TOO_LARGE', 'GW_ERR_MEDIA_TYPE', 'GW_ERR_BUFFER_FULL'),
  },
};

const LaneParams = Type.Object({
  lane: Type.String({ pattern: LANE.source, description: 'the POS lane (workstationId)' }),
});

const LANE_SCHEMA: FastifySchema = {
  summary: 'The shopper identified last at a lane (loyalty card or app code), with her cached offers',
  tags: ['identity'],
  params: LaneParams,
  response: {
    200: Type.Object({
      lane: Type.String(),
      identified: Type.Union([
        Type.Object({
          loyaltyId: Type.String(),
          method: Type.String({ enum: ['card', 'app'] }),
          scheme: Type.String(),
          deviceId: Type.String(),
          identifiedAt: Type.String({ format: 'date-time' }),
        }),
        Type.Null(),
      ]),
      offers: Type.Array(Offer),
    }),
  },
};

const LANE_DELETE_SCHEMA: FastifySchema = {
  summary: 'The lane is done with the shopper: the next one starts anonymous',
  tags: ['identity'],
  params: LaneParams,
  response: { 204: { description: 'forgotten', type: 'null' } },
};

/** Reads the HMAC keys of the rules that verify one, logging keys other users may read. */
function ruleKeys(config: Config['identity'], log: Logger): Map<string, Buffer> {
  const keys = new Map<string, Buffer>();
  for (const rule of [...config.payment.rules, ...config.loyalty]) {
    if (rule.check !== 'hmac' || !rule.hmac) continue;
    keys.set(rule.name, readKeyFile(rule.hmac.keyFile, `identity rule ${rule.name}`));
    if (readableByOthers(rule.hmac.keyFile))
      log.warn({ path: rule.hmac.keyFile }, 'key file is readable by other users; chmod 600 it');
  }
  return keys;
}

/**
 * Shopper identity at the touchpoints. Classifies every scan (src/identity/classify.ts) on its way
 * to the buffer, withholding payment tokens; emits retail.loyalty.identified.v1 and
 * retail.coupon.scanned.v1; remembers who was identified at each lane for the lane's lookup and
 * warms the offers cache for her; receives consented Wi-Fi sign-ins and links the device's
 * presence pseudonym to the account for the visit, so presence events carry the loyalty id.
 * Nothing it keeps is written to disk; logs carry counts and reasons, never ids, MACs or codes.
 */
export class IdentityModule implements GatewayModule {
  readonly name = 'identity';
  private gateway: Gateway | undefined;
  private log: Logger | undefined;
  private rules: CompiledRules | undefined;
  private day: Pseudonymizer | undefined;
  private ownKeys: KeyStore | undefined;
  private loyaltyKeys: StaticKeySource | undefined;
  private tokens: TokenFile | undefined;
  private purgeTimer: NodeJS.Timeout | undefined;
  private readonly links: LinkStore;
  private readonly lanes: LaneIdentities;
  private readonly counts = {
    scans: {} as Record<string, number>,
    signins: {} as Record<string, number>,
    classifierErrors: 0,
  };

  constructor(private readonly config: Config) {
    const wifi = config.identity.wifi;
    this.links = new LinkStore({
      ttlMs: wifi.ttlMin * 60_000,
      idleMs: wifi.idleMin * 60_000,
      max: wifi.maxLinks,
    });
    this.lanes = new LaneIdentities(config.identity.laneHoldSec * 1000);
  }

  start(gateway: Gateway): void {
    const { config } = this;
    const id = config.identity;
    const issues = identityConfigIssues(id);
    if (issues.length > 0) {
      throw new Error(`identity config invalid: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
    }
    const log = gateway.log.child({ component: 'identity' });
    this.gateway = gateway;
    this.log = log;
    this.rules = compileRules(id, { hmac: ruleKeys(id, log) });
    if (id.loyaltyIds === 'hashed' && id.loyaltyKeyFile) {
      this.loyaltyKeys = new StaticKeySource(readKeyFile(id.loyaltyKeyFile, 'identity.loyaltyKeyFile'));
      if (readableByOthers(id.loyaltyKeyFile))
        log.warn({ path: id.loyaltyKeyFile }, 'key file is readable by other users; chmod 600 it');
    }
    // The day key of presence, so a signed-in MAC hashes to the subject presence reports.
    this.day = gateway.service<Pseudonymizer>(PSEUDONYMIZER_SERVICE);
    if (!this.day) {
      this.ownKeys = new KeyStore({
        file: keyFilePath(config),
        rotateAtUtcHour: config.privacy.rotateAtUtcHour,
      });
      this.day = new Pseudonymizer(this.ownKeys, {
        storeId: config.store.id,
        length: config.privacy.hashLength,
      });
    }
    if (id.wifi.enabled || config.api.tokensFile !== undefined) {
      this.tokens = openTokenFile(config.api.tokensFile, 'identity.wifi.enabled', {
        log,
        clock: gateway.clock,
      });
    }
    gateway.provide(SCAN_CLASSIFIER_SERVICE, this.classifier);
    gateway.provide(SUBJECT_IDENTITY_SERVICE, this.subjectIdentity);
    this.purgeTimer = setInterval(() => this.purge(), PURGE_EVERY_MS);
    this.purgeTimer.unref();
    log.info(
      {
        loyaltyRules: id.loyalty.length,
        paymentRules: this.rules.payment.length,
        loyaltyIds: id.loyaltyIds,
        wifiSignin: id.wifi.enabled,
      },
      'identity started',
    );
  }

  private loyaltyFor(loyaltyId: string): SubjectLoyalty {
    if (!this.loyaltyKeys) return { loyaltyId };
    const hasher = new Pseudonymizer(this.loyaltyKeys, {
      storeId: '*',
      length: this.config.identity.loyaltyHashLength,
    });
    return { loyaltyHash: hasher.pseudonym('loyalty', loyaltyId, 0).id };
  }

  private scanDeps(): ScanIdentityDeps {
    const id = this.config.identity;
    return {
      rules: this.rules as CompiledRules,
      loyaltyIds: id.loyaltyIds,
      loyaltyHash: (loyaltyId) => this.loyaltyFor(loyaltyId).loyaltyHash ?? '',
      paymentRef: (text, nowMs) => `pt_${(this.day as Pseudonymizer).pseudonym('payment', text, nowMs).id}`,
      laneOf: (deviceId) => id.lanes[deviceId] ?? deviceId,
    };
  }

  /** The scan pipeline's classifier (see SCAN_CLASSIFIER_SERVICE). Never throws. */
  readonly classifier: ScanClassifier = (data, timeMs) => {
    const gateway = this.gateway;
    if (!gateway || !this.rules) return { data, follow: [] };
    try {
      const r = identifyScan(data, timeMs, this.scanDeps());
      const category = r.classification.category;
      this.counts.scans[category] = (this.counts.scans[category] ?? 0) + 1;
      gateway.metrics.identity.scans.inc({ category });
      if (r.identified) {
        this.lanes.set(r.lane, { ...r.identified, deviceId: data.deviceId, at: timeMs });
        setImmediate(() => this.warmOffers(r.identified?.loyaltyId as string));
      }
      return { data: r.data, follow: r.follow };
    } catch (err) {
      // Fail closed: without a classification the content may be a payment token.
      this.counts.classifierErrors++;
      this.log?.error(
        { error: err instanceof Error ? err.name : 'error' },
        'scan classification failed; content withheld',
      );
      const withheld: ScanData = {
        deviceId: data.deviceId,
        text: WITHHELD_TEXT['payment-token'],
        symbology: data.symbology,
        ...(data.aim ? { aim: data.aim } : {}),
        category: 'unknown',
        sensitive: 'payment-token',
      };
      return { data: withheld, follow: [] };
    }
  };

  /** Looks the shopper's offers up once, so the lane's request finds them in SQLite's cache. */
  private warmOffers(loyaltyId: string): void {
    const metrics = this.gateway?.metrics.identity;
    const offers = this.gateway?.service<OffersLookup>(OFFERS_LOOKUP_SERVICE);
    if (!offers) {
      metrics?.offersWarmed.inc({ result: 'no-cache' });
      return;
    }
    try {
      const n = offers.lookup({ loyaltyId }).length;
      metrics?.offersWarmed.inc({ result: n > 0 ? 'offers' : 'none' });
    } catch {
      metrics?.offersWarmed.inc({ result: 'no-cache' });
    }
  }

  /** For presence: the loyalty fields of a linked Wi-Fi subject. */
  private readonly subjectIdentity: SubjectIdentity = {
    identify: (subject, source, nowMs) => {
      if (source !== 'wifi') return undefined;
      const link = this.links.lookup(subject, nowMs);
      return link ? { ...link.loyalty } : undefined;
    },
  };

  private purge(): void {
    const now = this.gateway?.clock.now();
    if (now === undefined) return;
    this.links.purge(now);
    this.lanes.purge(now);
    this.gateway?.metrics.identity.links.set(this.links.size);
  }

  /** Handles one sign-in body (the route's work without HTTP). */
  async signin(body: unknown): Promise<SigninAnswer> {
    const gateway = this.gateway;
    if (!gateway || !this.day) throw new Error('identity module not started');
    const count = (result: string) => {
      this.counts.signins[result] = (this.counts.signins[result] ?? 0) + 1;
      gateway.metrics.identity.signins.inc({ result });
      gateway.metrics.identity.links.set(this.links.size);
      // The result only: never the account, the MAC or the subject.
      this.log?.info({ result }, 'wifi sign-in');
    };
    let answer: SigninAnswer;
    try {
      answer = await handleSignin(body, {
        required: this.config.identity.wifi.requiredScopes,
        pseudonym: (mac, now) => (this.day as Pseudonymizer).pseudonym('wifi', mac, now),
        loyaltyFor: (accountId) => this.loyaltyFor(accountId),
        links: this.links,
        linkEnd: (now) => epochEndsAt(now, this.config.privacy.rotateAtUtcHour),
        now: () => gateway.clock.now(),
        commit: async (data, now) => {
          const ev = gateway.factory.create(
            'retail.presence.identified.v1',
            this.config.presence.deviceId,
            data,
            now,
          );
          const seq = await gateway.outbox.accept(ev);
          return { id: ev.id, seq };
        },
      });
    } catch (err) {
      count(isGatewayError(err, 'GW_ERR_REQUEST_INVALID') ? 'invalid' : 'refused');
      throw err;
    }
    count(answer.result);
    return answer;
  }

  routes(app: FastifyInstance): void {
    const gateway = this.gateway;
    if (!gateway) throw new Error('identity module not started');
    const wifi = this.config.identity.wifi;
    app.setErrorHandler(writeEndpointErrors);
    if (wifi.enabled) {
      app.post(
        '/v1/identity/wifi-signin',
        {
          bodyLimit: wifi.bodyLimitBytes,
          validatorCompiler: validatedInHandler,
          schema: SIGNIN_SCHEMA,
          onRequest: bearerAuth({ tokens: this.tokens, scope: 'identity', metrics: gateway.metrics }),
        },
        async (req, reply) => {
          // Fastify also parses text/plain; anything but JSON is the wrong media type.
          if (typeof req.body === 'string') throw new GatewayError('GW_ERR_MEDIA_TYPE');
          const answer = await this.signin(req.body);
          return reply.status(answer.status).send(answer.body);
        },
      );
    }
    const laneAuth = bearerAuth({ tokens: this.tokens, scope: 'offers', metrics: gateway.metrics });
    const laneOf = (lane: string, req: Parameters<typeof principalOf>[0]) => {
      if (!LANE.test(lane))
        throw new GatewayError('GW_ERR_REQUEST_INVALID', 'lane is not a valid id', {
          details: [{ path: '/lane', message: 'is not a valid lane id' }],
        });
      const principal = principalOf(req);
      if (!principal || !mayActFor(principal, lane)) {
        gateway.metrics.authFailures.inc({ reason: 'lane' });
        throw new GatewayError('GW_ERR_FORBIDDEN', `this token may not act for lane ${lane}`);
      }
      return lane;
    };
    app.get<{ Params: { lane: string } }>(
      '/v1/identity/lanes/:lane',
      { onRequest: laneAuth, validatorCompiler: validatedInHandler, schema: LANE_SCHEMA },
      async (req, reply) => {
        const lane = laneOf(req.params.lane, req);
        const who = this.lanes.get(lane, gateway.clock.now());
        const offers = who
          ? (gateway.service<OffersLookup>(OFFERS_LOOKUP_SERVICE)?.lookup({ loyaltyId: who.loyaltyId }) ?? [])
          : [];
        const identified = who
          ? JSON.stringify({
              loyaltyId: who.loyaltyId,
              method: who.method,
              scheme: who.scheme,
              deviceId: who.deviceId,
              identifiedAt: new Date(who.at).toISOString(),
            })
          : 'null';
        return reply
          .header('content-type', 'application/json; charset=utf-8')
          .header('cache-control', 'no-store')
          .send(`{"lane":${JSON.stringify(lane)},"identified":${identified},"offers":[${offers.join(',')}]}`);
      },
    );
    app.delete<{ Params: { lane: string } }>(
      '/v1/identity/lanes/:lane',
      { onRequest: laneAuth, validatorCompiler: validatedInHandler, schema: LANE_DELETE_SCHEMA },
      async (req, reply) => {
        const lane = laneOf(req.params.lane, req);
        this.lanes.delete(lane);
        return reply.status(204).send();
      },
    );
  }

  status(): unknown {
    return {
      scans: { ...this.counts.scans },
      classifierErrors: this.counts.classifierErrors,
      signins: { ...this.counts.signins },
      links: this.links.size,
      lanes: this.lanes.size,
      loyaltyIds: this.config.identity.loyaltyIds,
    };
  }

  stop(): void {
    if (this.purgeTimer) clearInterval(this.purgeTimer);
    this.purgeTimer = undefined;
    this.links.clear();
    this.ownKeys?.close();
    this.loyaltyKeys?.close();
  }
}

export async function createIdentityModule(config: Config): Promise<GatewayModule | null> {
  return config.identity?.enabled ? new IdentityModule(config) : null;
}
