import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { ScanSemanticsFields } from '../barcode/event-schema.js';
import { TopicSafeId } from '../config/types.js';
import {
  CouponScannedData,
  IdentityScanFields,
  LoyaltyIdentifiedData,
  PresenceIdentifiedData,
} from '../identity/event-schema.js';
import { PosTransactionData } from '../pos/schema.js';
import {
  BeaconHealthData,
  PresenceDwellData,
  PresenceEnterData,
  PresenceExitData,
} from '../presence/events.js';

/**
 * Every event type the gateway emits, its topic class and the schema of its `data`. The JSON Schemas
 * in schemas/events/ are generated from this table (npm run gen:schemas) and a test fails on drift.
 */

export const EVENT_CLASSES = ['scan', 'presence', 'pos', 'device', 'beacon'] as const;
export type EventClass = (typeof EVENT_CLASSES)[number];

const DeviceId = TopicSafeId('id of the device that produced the reading, as configured');

export const ScanData = Type.Object(
  {
    deviceId: DeviceId,
    text: Type.String({
      maxLength: 65536,
      description:
        'the barcode content: framing and AIM identifier removed; GS1 separators kept as GS (U+001D)',
    }),
    aim: Type.Optional(
      Type.String({
        pattern: '^\\][A-Za-z0-9][0-9A-Za-z]$',
        description: 'AIM symbology identifier, e.g. ]E0',
      }),
    ),
    symbology: Type.String({
      minLength: 1,
      description:
        'symbology name derived from the AIM identifier (e.g. ean-13, code-128, qr); "unknown" without one',
    }),
    ...ScanSemanticsFields,
    ...IdentityScanFields,
  },
  { additionalProperties: false },
);

export const DeviceStatusData = Type.Object(
  {
    deviceId: DeviceId,
    kind: Type.String({ minLength: 1, description: 'driver kind, e.g. serial-scanner' }),
    state: Type.Unsafe<'connected' | 'disconnected' | 'unavailable'>({
      type: 'string',
      enum: ['connected', 'disconnected', 'unavailable'],
      description:
        'connected: open and reading; disconnected: lost after being open; unavailable: cannot be opened',
    }),
    path: Type.Optional(Type.String({ description: 'device path in use, when known' })),
    reason: Type.Optional(Type.String({ maxLength: 512, description: 'why the state changed' })),
    attempt: Type.Optional(
      Type.Integer({ minimum: 0, description: 'reopen attempts since the last connect' }),
    ),
  },
  { additionalProperties: false },
);

export const GatewayAlarmData = Type.Object(
  {
    alarm: Type.Unsafe<'buffer-quarantined' | 'buffer-full' | 'disk-low' | 'message-rejected'>({
      type: 'string',
      enum: ['buffer-quarantined', 'buffer-full', 'disk-low', 'message-rejected'],
      description: 'what happened',
    }),
    severity: Type.Unsafe<'critical' | 'warning' | 'info'>({
      type: 'string',
      enum: ['critical', 'warning', 'info'],
    }),
    message: Type.String({ maxLength: 1024 }),
    details: Type.Optional(
      Type.Record(Type.String(), Type.Unknown(), { description: 'alarm-specific facts' }),
    ),
  },
  { additionalProperties: false },
);

export const EVENT_TYPES = {
  'retail.scan.v1': { cls: 'scan', data: ScanData, description: 'a barcode read by a scanner' },
  'retail.device.status.v1': {
    cls: 'device',
    data: DeviceStatusData,
    description: 'a device connected, disconnected or cannot be opened',
  },
  'retail.gateway.alarm.v1': {
    cls: 'device',
    data: GatewayAlarmData,
    description: 'the gateway needs attention (device id "gateway")',
  },
  'retail.pos.transaction.v1': {
    cls: 'pos',
    data: PosTransactionData,
    description: 'a POS transaction posted by a lane (device id = workstationId)',
  },
  'retail.presence.enter.v1': {
    cls: 'presence',
    data: PresenceEnterData,
    description: 'a shopper or tag entered a zone (device id: presence.deviceId)',
  },
  'retail.presence.exit.v1': {
    cls: 'presence',
    data: PresenceExitData,
    description: 'a shopper or tag left a zone, with the time spent in it',
  },
  'retail.presence.dwell.v1': {
    cls: 'presence',
    data: PresenceDwellData,
    description: 'a shopper or tag is still in a zone (every presence.dwellEverySec)',
  },
  'retail.loyalty.identified.v1': {
    cls: 'scan',
    data: LoyaltyIdentifiedData,
    description: 'a loyalty card or app code was scanned at a lane (after its retail.scan.v1)',
  },
  'retail.coupon.scanned.v1': {
    cls: 'scan',
    data: CouponScannedData,
    description: 'a coupon (AI 8110, 8112, UPC-A number system 5) was scanned, with its fields decoded',
  },
  'retail.presence.identified.v1': {
    cls: 'presence',
    data: PresenceIdentifiedData,
    description: 'a shopper signed in on the store Wi-Fi with consent: her device is linked to her account',
  },
  'retail.beacon.health.v1': {
    cls: 'beacon',
    data: BeaconHealthData,
    description: 'a fixed beacon’s battery is low, it went missing, or that ended (device id: the beacon id)',
  },
} as const satisfies Record<string, { cls: EventClass; data: TSchema; description: string }>;

export type EventType = keyof typeof EVENT_TYPES;
export type EventData<T extends EventType> = Static<(typeof EVENT_TYPES)[T]['data']>;
export const EVENT_TYPE_NAMES = Object.keys(EVENT_TYPES) as EventType[];

/** Device id used for events about the gateway itself. */
export const GATEWAY_DEVICE_ID = 'gateway';
