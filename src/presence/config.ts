import { type Static, Type } from '@sinclair/typebox';
import { Section, StringEnum, TopicSafeId } from '../config/types.js';

/*
 * Config sections of the presence feature: presence (engine tuning, beacon health), zones,
 * registry (fixed beacons and tracked tags), privacy (pseudonymization key), wifi (Meraki receiver).
 * src/config/schema.ts adds them to the gateway config.
 */

const MAC = '^[0-9a-fA-F]{2}([:-]?[0-9a-fA-F]{2}){5}$';
const UUID = '^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$';

interface TuningDefaults {
  rssiAt1m: number;
  pathLossExponent: number;
  enterMeters: number;
  exitMeters: number;
  minDwellSec: number;
  exitAfterSec: number;
  absenceSec: number;
  switchMarginMeters: number;
}

const Tuning = (d: TuningDefaults, what: string) =>
  Section(
    {
      smoothing: StringEnum(
        ['kalman', 'median'] as const,
        'kalman',
        'RSSI smoothing per subject and zone: a 1-D Kalman filter, or the median of a window after IQR outlier rejection',
      ),
      kalmanProcessNoise: Type.Number({
        exclusiveMinimum: 0,
        default: 0.8,
        description: 'Kalman: how fast the true RSSI may drift, dB² per second',
      }),
      kalmanMeasurementNoise: Type.Number({
        exclusiveMinimum: 0,
        default: 15,
        description: 'Kalman: variance of one reading, dB²',
      }),
      medianWindow: Type.Integer({
        minimum: 3,
        maximum: 101,
        default: 9,
        description: 'median: readings kept',
      }),
      medianIqrK: Type.Number({
        minimum: 0,
        default: 1.5,
        description: 'median: readings outside [Q1 − k·IQR, Q3 + k·IQR] are dropped',
      }),
      rssiAt1m: Type.Number({
        minimum: -120,
        maximum: 0,
        default: d.rssiAt1m,
        description: 'RSSI at 1 m when neither the registry nor the advertisement gives one, dBm',
      }),
      pathLossExponent: Type.Number({
        minimum: 1,
        maximum: 6,
        default: d.pathLossExponent,
        description: 'path-loss exponent n of d = 10^((RSSI@1m − RSSI) / 10n)',
      }),
      enterMeters: Type.Number({
        exclusiveMinimum: 0,
        default: d.enterMeters,
        description: 'a zone can be entered when the smoothed distance is at most this',
      }),
      exitMeters: Type.Number({
        exclusiveMinimum: 0,
        default: d.exitMeters,
        description: 'a zone is left when the smoothed distance stays above this (≥ enterMeters)',
      }),
      minDwellSec: Type.Number({
        minimum: 0,
        default: d.minDwellSec,
        description: 'a zone must qualify this long before the enter is reported (shorter visits are not)',
      }),
      exitAfterSec: Type.Number({
        minimum: 0,
        default: d.exitAfterSec,
        description: 'the exit condition must hold this long before the exit is reported',
      }),
      absenceSec: Type.Number({
        exclusiveMinimum: 0,
        default: d.absenceSec,
        description: 'not heard in the current zone for this long: exit with reason "absent"',
      }),
      switchMarginMeters: Type.Number({
        minimum: 0,
        default: d.switchMarginMeters,
        description: 'another zone must be this much closer than the current one to take over',
      }),
    },
    what,
  );

export const PresenceConfig = Section(
  {
    deviceId: Type.String({
      pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$',
      default: 'presence',
      description: 'device id of presence events (topic …/events/presence/{deviceId})',
    }),
    tickMs: Type.Integer({
      minimum: 100,
      maximum: 10000,
      default: 1000,
      description: 'how often timers (exit, dwell, health) are evaluated',
    }),
    dwellEverySec: Type.Integer({
      minimum: 0,
      default: 60,
      description: 'a retail.presence.dwell.v1 every this many seconds while in a zone; 0 = none',
    }),
    maxSubjects: Type.Integer({
      minimum: 10,
      maximum: 1_000_000,
      default: 20000,
      description: 'subjects tracked at once; beyond, the longest unheard is forgotten',
    }),
    ble: Tuning(
      {
        rssiAt1m: -59,
        pathLossExponent: 3.5,
        enterMeters: 3,
        exitMeters: 5,
        minDwellSec: 5,
        exitAfterSec: 5,
        absenceSec: 30,
        switchMarginMeters: 1,
      },
      'tuning for BLE readings',
    ),
    wifi: Tuning(
      {
        rssiAt1m: -40,
        pathLossExponent: 3,
        enterMeters: 8,
        exitMeters: 12,
        minDwellSec: 0,
        exitAfterSec: 60,
        absenceSec: 300,
        switchMarginMeters: 2,
      },
      'tuning for Wi-Fi observations (Meraki posts about once a minute)',
    ),
    health: Section(
      {
        batteryLowMv: Type.Integer({
          minimum: 0,
          maximum: 10000,
          default: 2500,
          description: 'a fixed beacon reporting less (Eddystone-TLM) is "battery-low"',
        }),
        missingAfterSec: Type.Integer({
          minimum: 10,
          default: 600,
          description: 'a fixed beacon not heard for this long is "missing"',
        }),
      },
      'fixed beacon health (retail.beacon.health.v1)',
    ),
  },
  'presence engine: zones entered, left and dwelt in',
);
export type PresenceConfig = Static<typeof PresenceConfig>;
export type SourceTuning = PresenceConfig['ble'];

export const ZoneConfig = Type.Object(
  {
    id: TopicSafeId('zone id'),
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'display name' })),
    polygon: Type.Optional(
      Type.Array(Type.Tuple([Type.Number(), Type.Number()]), {
        minItems: 3,
        description: 'floor-plan outline [[x, y], …] in metres (Meraki x/y)',
      }),
    ),
    floorPlanId: Type.Optional(
      Type.String({ minLength: 1, description: 'Meraki floor plan the polygon is on; any when absent' }),
    ),
    apMacs: Type.Optional(
      Type.Array(Type.String({ pattern: MAC }), { description: 'Wi-Fi access points in this zone' }),
    ),
    apTags: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), { description: 'Meraki AP tags that mean this zone' }),
    ),
  },
  { additionalProperties: false },
);
export type ZoneConfig = Static<typeof ZoneConfig>;

export const ZonesConfig = Type.Array(ZoneConfig, {
  default: [],
  description: 'store zones: polygons on the floor plan, and the access points in each',
});

const IBeaconId = Type.Object(
  {
    uuid: Type.String({ pattern: UUID, description: 'proximity UUID' }),
    major: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
    minor: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
  },
  { additionalProperties: false },
);
const EddystoneId = Type.Object(
  {
    namespace: Type.String({ pattern: '^[0-9a-fA-F]{20}$', description: '10-byte namespace, hex' }),
    instance: Type.Optional(
      Type.String({ pattern: '^[0-9a-fA-F]{12}$', description: '6-byte instance, hex' }),
    ),
  },
  { additionalProperties: false },
);
const AltBeaconId = Type.Object(
  {
    beaconId: Type.String({
      pattern: '^[0-9a-fA-F]{2,40}$',
      description: 'the 20-byte beacon id in hex, or a prefix of it',
    }),
  },
  { additionalProperties: false },
);

export const FixedBeaconConfig = Type.Object(
  {
    id: TopicSafeId('beacon id (topic …/events/beacon/{id})'),
    zone: Type.Optional(TopicSafeId('zone the beacon is mounted in')),
    ibeacon: Type.Optional(IBeaconId),
    eddystone: Type.Optional(EddystoneId),
    altbeacon: Type.Optional(AltBeaconId),
    rssiAt1m: Type.Optional(
      Type.Number({ minimum: -120, maximum: 0, description: 'calibrated RSSI at 1 m; default: advertised' }),
    ),
    batteryLowMv: Type.Optional(Type.Integer({ minimum: 0, maximum: 10000 })),
    missingAfterSec: Type.Optional(Type.Integer({ minimum: 10 })),
  },
  { additionalProperties: false, minProperties: 2 },
);
export type FixedBeaconConfig = Static<typeof FixedBeaconConfig>;

export const TrackedTagConfig = Type.Object(
  {
    id: TopicSafeId('tag class id, e.g. loyalty-app or staff-badge (sent as "tag")'),
    ibeacon: Type.Optional(IBeaconId),
    eddystone: Type.Optional(EddystoneId),
    altbeacon: Type.Optional(AltBeaconId),
    identity: StringEnum(
      ['hashed', 'clear'] as const,
      'hashed',
      'subject id: the keyed hash of the beacon identity, or the identity itself (an app-issued token)',
    ),
    rssiAt1m: Type.Optional(
      Type.Number({ minimum: -120, maximum: 0, description: 'calibrated RSSI at 1 m' }),
    ),
  },
  { additionalProperties: false },
);
export type TrackedTagConfig = Static<typeof TrackedTagConfig>;

export const RegistryConfig = Section(
  {
    beacons: Type.Array(FixedBeaconConfig, { default: [], description: 'the store’s own beacons' }),
    tags: Type.Array(TrackedTagConfig, {
      default: [],
      description:
        'beacons carried by people: loyalty-app phones (iBeacon UUID/major), staff badges (Eddystone namespace)',
    }),
  },
  'known beacons',
);
export type RegistryConfig = Static<typeof RegistryConfig>;

export const PrivacyConfig = Section(
  {
    keyFile: Type.Optional(
      Type.String({
        minLength: 1,
        description: 'pseudonymization key file (mode 0600); default: presence-key.json beside the buffer',
      }),
    ),
    rotateAtUtcHour: Type.Integer({
      minimum: 0,
      maximum: 23,
      default: 0,
      description: 'the key is replaced every day at this hour (UTC); the old one is forgotten',
    }),
    hashLength: Type.Integer({
      minimum: 8,
      maximum: 64,
      default: 16,
      description: 'hex digits of HMAC-SHA256 kept as the pseudonym',
    }),
    ignoreRandomized: Type.Boolean({
      default: false,
      description: 'drop devices with randomized (private) addresses instead of flagging them',
    }),
  },
  'pseudonymization of device addresses',
);
export type PrivacyConfig = Static<typeof PrivacyConfig>;

export const WifiConfig = Section(
  {
    meraki: Section(
      {
        enabled: Type.Boolean({ default: false, description: 'receive Cisco Meraki Scanning API v3 posts' }),
        path: Type.String({
          pattern: '^/[A-Za-z0-9/_.-]*$',
          default: '/v1/wifi/meraki',
          description: 'URL path on the local API (GET: validator, POST: observations)',
        }),
        validatorFile: Type.Optional(
          Type.String({
            minLength: 1,
            description: 'file holding the validator string from the Meraki dashboard',
          }),
        ),
        secretFile: Type.Optional(
          Type.String({
            minLength: 1,
            description: 'file holding the shared secret set in the Meraki dashboard',
          }),
        ),
        zoneBy: StringEnum(
          ['auto', 'ap', 'polygon'] as const,
          'auto',
          'map observations to zones by access point (MAC or tags) or by x/y in zone polygons; auto: polygon when a location is given',
        ),
        noiseFloorDbm: Type.Integer({
          minimum: -120,
          maximum: -50,
          default: -95,
          description: 'Meraki reports RSSI as dB above the noise floor (positive numbers); added to get dBm',
        }),
        bodyLimitBytes: Type.Integer({
          minimum: 1024,
          maximum: 64 * 1024 * 1024,
          default: 8 * 1024 * 1024,
          description: 'largest accepted post',
        }),
      },
      'Meraki Scanning API receiver',
    ),
  },
  'Wi-Fi presence',
);
export type WifiConfig = Static<typeof WifiConfig>;
