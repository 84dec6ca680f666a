import { type Static, Type } from '@sinclair/typebox';
import type { BleBeaconsConfig } from '../../drivers/ble-beacons/config.js';
import type { HidScannerConfig } from '../../drivers/hid-scanner/config.js';
import type { SerialScannerConfig } from '../../drivers/serial-scanner/config.js';
import { ApiRateLimitConfig, StatusPageConfig } from '../api/config.js';
import { BarcodeConfig } from '../barcode/config.js';
import { CommandsConfig } from '../downlink/config.js';
import { DEVICE_KIND_NAMES, DEVICE_KINDS } from '../drivers/kinds.js';
import { IdentityConfig } from '../identity/config.js';
import { OffersConfig } from '../offers/config.js';
import { PosConfig } from '../pos/config.js';
import {
  PresenceConfig,
  PrivacyConfig,
  RegistryConfig,
  WifiConfig,
  ZonesConfig,
} from '../presence/config.js';
import { StreamConfig } from '../stream/config.js';
import { MqttTlsConfig } from '../uplink/tls.js';
import { IntEnum, relaxDefaults, Section, Size, StringEnum, TopicSafeId } from './types.js';

/*
 * The one source of truth for configuration: types, defaults and validation all come from here.
 * config/store-gateway.schema.json is generated from it (npm run gen:schemas) and a test fails on drift.
 */

export const MqttConfig = Section(
  {
    url: Type.String({
      pattern: '^(mqtt|mqtts|tcp|tls|ws|wss)://',
      default: 'mqtt://127.0.0.1:1883',
      description: 'broker URL',
    }),
    protocolVersion: IntEnum([5, 4] as const, 5, 'MQTT 5 (5) or MQTT 3.1.1 (4)'),
    clientId: Type.Optional(
      Type.String({ minLength: 1, maxLength: 128, description: 'default: sg-{store}-{gateway}' }),
    ),
    username: Type.Optional(Type.String({ minLength: 1, description: 'broker user name' })),
    passwordFile: Type.Optional(
      Type.String({
        minLength: 1,
        description: 'file holding the broker password (e.g. a systemd credential)',
      }),
    ),
    tls: Type.Optional(MqttTlsConfig),
    keepaliveSec: Type.Integer({ minimum: 5, maximum: 1200, default: 30, description: 'MQTT keepalive' }),
    connectTimeoutMs: Type.Integer({
      minimum: 500,
      maximum: 120000,
      default: 10000,
      description: 'CONNACK wait',
    }),
    sessionExpirySec: Type.Integer({
      minimum: 0,
      default: 86400,
      description: 'MQTT 5 session expiry; the broker keeps subscriptions this long while offline',
    }),
    inflightWindow: Type.Integer({
      minimum: 1,
      maximum: 65535,
      default: 1000,
      description: 'QoS 1 messages awaiting PUBACK; lowered to the broker Receive Maximum on MQTT 5',
    }),
    reconnect: Section(
      {
        minMs: Type.Integer({ minimum: 50, default: 500, description: 'first reconnect delay' }),
        maxMs: Type.Integer({ minimum: 100, default: 30000, description: 'longest reconnect delay' }),
      },
      'exponential backoff with jitter between connection attempts',
    ),
    batch: Section(
      {
        enabled: Type.Boolean({
          default: true,
          description: 'drain a deep backlog in CloudEvents batches; consumers must accept both forms',
        }),
        threshold: Type.Integer({
          minimum: 0,
          default: 10000,
          description: 'backlog depth (events not yet published) above which the backlog drains in batches',
        }),
        maxEvents: Type.Integer({
          minimum: 1,
          maximum: 100000,
          default: 500,
          description: 'most events in one batch message',
        }),
        maxBytes: Size(
          "largest batch payload; lowered to fit the broker's Maximum Packet Size on MQTT 5",
          '128KiB',
        ),
      },
      'CloudEvents batched content mode on the catch-up path (docs/TOPICS.md)',
    ),
  },
  'MQTT uplink to the central broker',
);

export const BufferConfig = Section(
  {
    path: Type.String({
      minLength: 1,
      default: '/var/lib/store-gateway/buffer.db',
      description: 'SQLite file of the outbox',
    }),
    synchronous: StringEnum(
      ['FULL', 'NORMAL', 'EXTRA'] as const,
      'FULL',
      'SQLite synchronous mode; FULL survives power loss',
    ),
    maxBytes: Size('byte budget of the buffer file', '1GiB'),
    minFreeBytes: Size('free-disk floor; intake is refused below it', '256MiB'),
    reserveBytes: Size('part of the budget kept for device status and alarm events', '4MiB'),
    commitIntervalMs: Type.Integer({
      minimum: 0,
      maximum: 100,
      default: 2,
      description: 'group-commit window for driver readings',
    }),
    commitMaxRows: Type.Integer({
      minimum: 1,
      maximum: 10000,
      default: 2000,
      description: 'commit at once when this many rows wait',
    }),
  },
  'the SQLite outbox',
);

export const ApiConfig = Section(
  {
    enabled: Type.Boolean({ default: true, description: 'serve the local HTTP API' }),
    host: Type.String({ minLength: 1, default: '127.0.0.1', description: 'bind address' }),
    port: Type.Integer({
      minimum: 0,
      maximum: 65535,
      default: 8080,
      description: 'TCP port; 0 picks a free one',
    }),
    tokensFile: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'file of bearer tokens, one "token name [scopes]" per line (e.g. a systemd credential); write endpoints need one',
      }),
    ),
    bodyLimit: Size('largest request body on a route without its own limit (413 above it)', '64KiB'),
    rateLimit: ApiRateLimitConfig,
    statusPage: StatusPageConfig,
  },
  'local HTTP API',
);

export const LogConfig = Section(
  {
    level: StringEnum(['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const, 'info', 'log level'),
    pretty: Type.Boolean({ default: false, description: 'human-readable logs instead of JSON' }),
  },
  'logging',
);

/** What every device entry has; the rest is validated by the schema of its kind. */
export const DeviceBase = Type.Object(
  {
    id: TopicSafeId('device id; one MQTT topic level'),
    kind: Type.Unsafe<string>({ type: 'string', enum: DEVICE_KIND_NAMES, description: 'driver kind' }),
  },
  { additionalProperties: true },
);

export const GatewayConfig = Type.Object(
  {
    store: Type.Object({ id: TopicSafeId('store id') }, { additionalProperties: false }),
    gateway: Type.Object(
      { id: TopicSafeId('gateway id, unique within the store') },
      { additionalProperties: false },
    ),
    mqtt: MqttConfig,
    buffer: BufferConfig,
    api: ApiConfig,
    log: LogConfig,
    barcode: BarcodeConfig,
    pos: PosConfig,
    offers: OffersConfig,
    stream: StreamConfig,
    commands: CommandsConfig,
    presence: PresenceConfig,
    zones: ZonesConfig,
    registry: RegistryConfig,
    privacy: PrivacyConfig,
    wifi: WifiConfig,
    identity: IdentityConfig,
    devices: Type.Array(DeviceBase, { default: [], description: 'hardware to read' }),
  },
  { additionalProperties: false },
);

export type DeviceConfig = SerialScannerConfig | HidScannerConfig | BleBeaconsConfig;
type RawConfig = Static<typeof GatewayConfig>;

/** A validated config with defaults applied and sizes normalised to bytes. */
export type Config = Omit<RawConfig, 'buffer' | 'devices'> & {
  buffer: Omit<RawConfig['buffer'], 'maxBytes' | 'minFreeBytes' | 'reserveBytes'> & {
    maxBytes: number;
    minFreeBytes: number;
    reserveBytes: number;
  };
  devices: DeviceConfig[];
};

/** The JSON Schema published in config/ for editors and other tools: devices checked per kind. */
export function publishedSchema(): Record<string, unknown> {
  const deviceKinds = Object.entries(DEVICE_KINDS).map(([kind, schema]) => ({
    if: { properties: { kind: { const: kind } }, required: ['kind'] },
    // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then keyword
    then: schema,
  }));
  return relaxDefaults({
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: 'https://store-gateway.dev/schemas/config.json',
    title: 'store-gateway configuration',
    ...JSON.parse(JSON.stringify(GatewayConfig)),
    properties: {
      ...JSON.parse(JSON.stringify(GatewayConfig.properties)),
      devices: {
        type: 'array',
        default: [],
        description: 'hardware to read',
        items: { allOf: [JSON.parse(JSON.stringify(DeviceBase)), ...deviceKinds] },
      },
    },
  });
}
