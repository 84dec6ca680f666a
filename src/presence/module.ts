import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifySchema } from 'fastify';
import { Counter, Gauge } from 'prom-client';
import { BLE_SINK_SERVICE } from '../../drivers/ble-beacons/reading.js';
import { buildZoneMap, type ZoneMap } from '../../drivers/wifi-presence/meraki.js';
import { MerakiPost } from '../../drivers/wifi-presence/meraki-schema.js';
import { errorResponses, validatedInHandler } from '../api/schemas.js';
import type { Config } from '../config/schema.js';
import { GatewayError } from '../errors.js';
import type { Gateway } from '../gateway.js';
import type { GatewayModule } from '../modules.js';
import { KeyStore } from '../privacy/key-store.js';
import { Pseudonymizer } from '../privacy/pseudonymizer.js';
import { createAjv, describeErrors } from '../schema/ajv.js';
import type { SourceTuning } from './config.js';
import { presenceConfigIssues } from './config-rules.js';
import { PresenceEngine, type Tuning } from './engine.js';
import { BeaconHealth } from './health.js';
import { PSEUDONYMIZER_SERVICE, SUBJECT_IDENTITY_SERVICE, type SubjectIdentity } from './identity-hook.js';
import { BeaconRegistry } from './registry.js';
import { PresenceService } from './service.js';

export { presenceConfigIssues };

const ajv = createAjv({ allErrors: true });
const validateMeraki = ajv.compile(MerakiPost);

/** The Meraki receiver's schemas, for the OpenAPI document (docs/API.md). */
const MERAKI_VALIDATOR_SCHEMA: FastifySchema = {
  summary: 'Meraki receiver check: answers the validator string (wifi.meraki.validatorFile)',
  tags: ['presence'],
  querystring: Type.Object({}),
  response: { 200: { description: 'the validator', content: { 'text/plain': { schema: Type.String() } } } },
};
const MERAKI_POST_SCHEMA: FastifySchema = {
  summary: 'Meraki Scanning API post (authenticated by its shared secret, not a bearer token)',
  description:
    'The post must carry the shared secret of wifi.meraki.secretFile in its `secret` field (403 otherwise); client MACs are hashed on arrival and never kept.',
  tags: ['presence'],
  body: MerakiPost,
  response: {
    200: Type.Object({
      accepted: Type.Integer({ description: 'client observations used' }),
      unmapped: Type.Integer({ description: 'observations from access points mapped to no zone' }),
    }),
    ...errorResponses('GW_ERR_FORBIDDEN', 'GW_ERR_BODY_TOO_LARGE', 'GW_ERR_MEDIA_TYPE'),
  },
};

export function toTuning(t: SourceTuning): Tuning {
  return {
    ...t,
    minDwellMs: t.minDwellSec * 1000,
    exitAfterMs: t.exitAfterSec * 1000,
    absenceMs: t.absenceSec * 1000,
  };
}

/** The key file: `privacy.keyFile`, or presence-key.json beside the buffer. */
export function keyFilePath(config: Config): string {
  return config.privacy.keyFile ?? join(dirname(config.buffer.path), 'presence-key.json');
}

const bleDeviceIds = (config: Config) =>
  config.devices.filter((d) => d.kind === 'ble-beacons').map((d) => d.id);

/** The presence module when the config has BLE receivers, fixed beacons or the Meraki receiver. */
export function createPresenceModule(config: Config): PresenceModule | null {
  const wanted =
    bleDeviceIds(config).length > 0 || config.wifi.meraki.enabled || config.registry.beacons.length > 0;
  return wanted ? new PresenceModule(config) : null;
}

function readSecretFile(path: string, what: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8').trim();
  } catch (err) {
    throw new Error(`cannot read the Meraki ${what} file ${path}: ${(err as Error).message}`);
  }
  if (!text) throw new Error(`the Meraki ${what} file ${path} is empty`);
  return text;
}

/**
 * Presence: BLE receivers (devices of kind ble-beacons) and the Meraki Scanning API receiver feed
 * one engine; its transitions become retail.presence.* events, fixed beacon health becomes
 * retail.beacon.health.v1. Wi-Fi is a module, not a device: Meraki posts arrive over the local API
 * from the Meraki cloud; nothing is opened or polled.
 */
export class PresenceModule implements GatewayModule {
  readonly name = 'presence';
  private service: PresenceService | undefined;
  private engine: PresenceEngine | undefined;
  private health: BeaconHealth | undefined;
  private keys: KeyStore | undefined;
  private gateway: Gateway | undefined;
  private tickTimer: NodeJS.Timeout | undefined;
  private zoneMap: ZoneMap;
  private validator = '';
  private secretDigest: Buffer | undefined;
  private readonly compareKey = randomBytes(32);
  private metrics: { posts: Counter<'result'>; subjects: Gauge; transitions: Counter<'type'> } | undefined;

  constructor(private readonly config: Config) {
    this.zoneMap = buildZoneMap(config.zones);
  }

  start(gateway: Gateway): void {
    const { config } = this;
    const issues = presenceConfigIssues(config);
    if (issues.length > 0) {
      throw new Error(`presence config invalid: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
    }
    this.gateway = gateway;
    const log = gateway.log.child({ component: 'presence' });
    const now = gateway.clock.now();
    const meraki = config.wifi.meraki;
    if (meraki.enabled) {
      this.validator = readSecretFile(meraki.validatorFile as string, 'validator');
      this.secretDigest = this.digest(readSecretFile(meraki.secretFile as string, 'secret'));
    }
    this.keys = new KeyStore({ file: keyFilePath(config), rotateAtUtcHour: config.privacy.rotateAtUtcHour });
    const pseudonymizer = new Pseudonymizer(this.keys, {
      storeId: config.store.id,
      length: config.privacy.hashLength,
    });
    pseudonymizer.epoch(now);
    if (this.keys.lastError)
      log.error({ reason: this.keys.lastError }, 'presence key file cannot be written');
    const registry = new BeaconRegistry(config.registry);
    this.engine = new PresenceEngine({
      ble: toTuning(config.presence.ble),
      wifi: toTuning(config.presence.wifi),
      dwellEveryMs: config.presence.dwellEverySec * 1000,
      maxSubjects: config.presence.maxSubjects,
    });
    this.health = new BeaconHealth(
      registry.beacons,
      {
        batteryLowMv: config.presence.health.batteryLowMv,
        missingAfterMs: config.presence.health.missingAfterSec * 1000,
      },
      now,
    );
    const emitters = new Map<string, ReturnType<Gateway['emitFor']>>();
    this.service = new PresenceService({
      engine: this.engine,
      registry,
      health: this.health,
      pseudonymizer,
      presence: config.presence,
      ignoreRandomized: config.privacy.ignoreRandomized,
      identify: (subject, source, now) =>
        gateway.service<SubjectIdentity>(SUBJECT_IDENTITY_SERVICE)?.identify(subject, source, now),
      emit: (deviceId, type, data, time) => {
        let emit = emitters.get(deviceId);
        if (!emit) {
          emit = gateway.emitFor(deviceId);
          emitters.set(deviceId, emit);
        }
        emit(type, data, time);
      },
    });
    this.registerMetrics(gateway);
    this.tickTimer = setInterval(() => this.tick(), config.presence.tickMs);
    // The BLE drivers start after the modules and pick the sink up from the gateway's services.
    gateway.provide(BLE_SINK_SERVICE, this.service);
    // A Wi-Fi sign-in (src/identity) hashes the MAC it receives with this same key.
    gateway.provide(PSEUDONYMIZER_SERVICE, pseudonymizer);
    log.info(
      {
        zones: config.zones.length,
        beacons: registry.beacons.length,
        receivers: bleDeviceIds(config).length,
        meraki: meraki.enabled,
      },
      'presence started',
    );
  }

  private registerMetrics(gateway: Gateway): void {
    const registers = [gateway.metrics.registry];
    const engine = this.engine as PresenceEngine;
    this.metrics = {
      posts: new Counter({
        name: 'sg_meraki_posts_total',
        help: 'Meraki Scanning API posts, by result (accepted, forbidden, invalid)',
        labelNames: ['result'],
        registers,
      }),
      transitions: new Counter({
        name: 'sg_presence_transitions_total',
        help: 'Presence events produced, by type (enter, exit, dwell)',
        labelNames: ['type'],
        registers,
      }),
      subjects: new Gauge({
        name: 'sg_presence_subjects',
        help: 'Subjects (pseudonyms) the presence engine tracks',
        registers,
        collect() {
          this.set(engine.size);
        },
      }),
    };
    for (const r of ['accepted', 'forbidden', 'invalid']) this.metrics.posts.inc({ result: r }, 0);
  }

  private tick(): void {
    const service = this.service;
    const gateway = this.gateway;
    if (!service || !gateway) return;
    const before = { ...service.counts.transitions };
    service.tick(gateway.clock.now());
    this.countTransitions(before);
  }

  private countTransitions(before: { enter: number; exit: number; dwell: number }): void {
    const after = this.service?.counts.transitions;
    if (!after || !this.metrics) return;
    for (const type of ['enter', 'exit', 'dwell'] as const) {
      const n = after[type] - before[type];
      if (n > 0) this.metrics.transitions.inc({ type }, n);
    }
  }

  private digest(secret: string): Buffer {
    return createHmac('sha256', this.compareKey).update(secret).digest();
  }

  /** Constant-time comparison (of keyed digests, so lengths never leak either). */
  private secretMatches(secret: unknown): boolean {
    if (typeof secret !== 'string' || !this.secretDigest) return false;
    return timingSafeEqual(this.digest(secret), this.secretDigest);
  }

  routes(app: FastifyInstance): void {
    const meraki = this.config.wifi.meraki;
    if (!meraki.enabled) return;
    // The Meraki dashboard checks the receiver with a GET: the answer must be the validator string.
    app.get(meraki.path, { schema: MERAKI_VALIDATOR_SCHEMA }, async (_req, reply) =>
      reply.type('text/plain').send(this.validator),
    );
    // The body is validated in the handler, after the shared secret, so each outcome is counted.
    const post = {
      bodyLimit: meraki.bodyLimitBytes,
      validatorCompiler: validatedInHandler,
      schema: MERAKI_POST_SCHEMA,
    };
    app.post(meraki.path, post, async (req, reply) => {
      const body = req.body as Record<string, unknown> | null | undefined;
      if (!this.secretMatches(body?.secret)) {
        this.service && this.service.counts.meraki.forbidden++;
        this.metrics?.posts.inc({ result: 'forbidden' });
        throw new GatewayError('GW_ERR_FORBIDDEN', 'the shared secret is missing or wrong');
      }
      if (!validateMeraki(body)) {
        const issues = describeErrors(validateMeraki.errors);
        this.service && this.service.counts.meraki.invalid++;
        this.metrics?.posts.inc({ result: 'invalid' });
        throw new GatewayError(
          'GW_ERR_REQUEST_INVALID',
          `Meraki post invalid: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`.slice(0, 2000),
          { details: issues },
        );
      }
      const service = this.service as PresenceService;
      const gateway = this.gateway as Gateway;
      const before = { ...service.counts.transitions };
      const result = service.meraki(
        body as MerakiPost,
        { zones: this.zoneMap, zoneBy: meraki.zoneBy, noiseFloorDbm: meraki.noiseFloorDbm },
        gateway.clock.now(),
      );
      this.countTransitions(before);
      this.metrics?.posts.inc({ result: 'accepted' });
      return reply.status(200).send({ accepted: result.clients, unmapped: result.unmapped });
    });
  }

  stop(): void {
    if (this.tickTimer) clearInterval(this.tickTimer);
    this.tickTimer = undefined;
    if (this.service && this.gateway) this.service.shutdown(this.gateway.clock.now());
    this.keys?.close();
  }

  status(): unknown {
    const service = this.service;
    const engine = this.engine;
    if (!service || !engine) return { running: false };
    return {
      subjects: engine.size,
      zones: engine.zoneCounts(),
      counts: service.counts,
      engine: engine.counts,
      beacons: this.health?.snapshot() ?? {},
      privacy: {
        keyFile: keyFilePath(this.config),
        rotations: this.keys?.rotations ?? 0,
        keyError: this.keys?.lastError,
      },
    };
  }
}
