import { Type } from '@sinclair/typebox';
import { TopicSafeId } from '../config/types.js';
import { loyaltyFields } from '../identity/event-schema.js';

/*
 * `data` schemas of the presence and beacon events; src/events/catalog.ts lists them. No field can
 * hold a device address: subjects are keyed hashes (or an app-issued tag identity, when configured).
 */

const Zone = TopicSafeId('zone id, as configured');
const Rfc3339 = (description: string) => Type.String({ format: 'date-time', description });

const presenceFields = {
  subject: Type.String({
    minLength: 1,
    maxLength: 128,
    description:
      'pseudonym: truncated HMAC-SHA256 of the device address or beacon identity with the day’s store key (hex); for a tag class with identity "clear", the beacon identity',
  }),
  epoch: Type.String({
    pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$',
    description: 'key period of the pseudonym (UTC date); subjects of different periods are unrelated',
  }),
  subjectType: Type.Unsafe<'tag' | 'device'>({
    type: 'string',
    enum: ['tag', 'device'],
    description:
      'tag: a registered beacon carried by a person (loyalty app, badge); device: a phone or other device by its address',
  }),
  tag: Type.Optional(TopicSafeId('registry tag class, e.g. loyalty-app or staff-badge')),
  source: Type.Unsafe<'ble' | 'wifi' | 'meraki-ble'>({
    type: 'string',
    enum: ['ble', 'wifi', 'meraki-ble'],
    description:
      'ble: the gateway’s BLE receivers; wifi: Meraki Wi-Fi; meraki-ble: a BLE tag heard by Meraki access points',
  }),
  randomized: Type.Boolean({
    description: 'the device used a randomized (private) address: the pseudonym may change within the day',
  }),
  zone: Zone,
  rssi: Type.Integer({ minimum: -150, maximum: 50, description: 'smoothed RSSI in the zone, dBm' }),
  distanceM: Type.Number({
    minimum: 0,
    maximum: 1000,
    description: 'smoothed log-distance estimate, metres',
  }),
  // A device linked to a loyalty account by a consented Wi-Fi sign-in (src/identity).
  ...loyaltyFields,
};

export const PresenceEnterData = Type.Object(presenceFields, { additionalProperties: false });

export const PresenceExitData = Type.Object(
  {
    ...presenceFields,
    reason: Type.Unsafe<'left' | 'moved' | 'absent' | 'rotation' | 'shutdown' | 'evicted'>({
      type: 'string',
      enum: ['left', 'moved', 'absent', 'rotation', 'shutdown', 'evicted'],
      description:
        'left: signal stayed beyond the exit distance; moved: entered another zone; absent: not heard for the absence time; rotation: the daily key changed; shutdown: the gateway stopped; evicted: too many subjects',
    }),
    enteredAt: Rfc3339('when the zone was entered'),
    lastSeenAt: Rfc3339('when the subject was last heard in the zone'),
    dwellMs: Type.Integer({ minimum: 0, description: 'time in the zone, ms (to lastSeenAt when absent)' }),
  },
  { additionalProperties: false },
);

export const PresenceDwellData = Type.Object(
  {
    ...presenceFields,
    enteredAt: Rfc3339('when the zone was entered'),
    dwellMs: Type.Integer({ minimum: 0, description: 'time in the zone so far, ms' }),
  },
  { additionalProperties: false },
);

export const BeaconHealthData = Type.Object(
  {
    beaconId: TopicSafeId('fixed beacon id from the registry'),
    zone: Type.Optional(Zone),
    status: Type.Unsafe<'ok' | 'battery-low' | 'missing'>({
      type: 'string',
      enum: ['ok', 'battery-low', 'missing'],
      description:
        'battery-low: TLM battery under the threshold; missing: not heard for the configured time; ok: the problem ended',
    }),
    previous: Type.Unsafe<'ok' | 'battery-low' | 'missing' | 'unknown'>({
      type: 'string',
      enum: ['ok', 'battery-low', 'missing', 'unknown'],
      description: 'the status before this one (unknown: not heard since the gateway started)',
    }),
    lastSeenAt: Type.Optional(Rfc3339('when the beacon was last heard')),
    rssi: Type.Optional(Type.Integer({ minimum: -150, maximum: 50, description: 'last RSSI, dBm' })),
    batteryMv: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 65535, description: 'TLM battery voltage, mV' }),
    ),
    temperatureC: Type.Optional(
      Type.Number({ minimum: -128, maximum: 128, description: 'TLM temperature, °C' }),
    ),
    advCount: Type.Optional(
      Type.Integer({ minimum: 0, description: 'TLM advertisements sent since power-on' }),
    ),
    uptimeSec: Type.Optional(Type.Number({ minimum: 0, description: 'TLM time since power-on, s' })),
  },
  { additionalProperties: false },
);
