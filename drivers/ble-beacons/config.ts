import { type Static, Type } from '@sinclair/typebox';
import { Section, StringEnum, TopicSafeId } from '../../src/config/types.js';

export const BleBeaconsConfig = Type.Object(
  {
    id: TopicSafeId('device id; one MQTT topic level'),
    kind: Type.Literal('ble-beacons'),
    hciDeviceId: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 31,
        description: 'HCI adapter index (hci0 = 0); default: the first',
      }),
    ),
    extended: Type.Boolean({ default: false, description: 'Bluetooth 5 extended scanning' }),
    zone: Type.String({
      pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$',
      default: 'store',
      description: 'zone this receiver covers (an id from `zones`)',
    }),
    rssiOffsetDb: Type.Number({
      minimum: -30,
      maximum: 30,
      default: 0,
      description: 'added to every RSSI this receiver reports (antenna calibration)',
    }),
    pathLossExponent: Type.Optional(
      Type.Number({
        minimum: 1,
        maximum: 6,
        description: 'path-loss exponent n around this receiver; default presence.ble.pathLossExponent',
      }),
    ),
    minRssi: Type.Integer({
      minimum: -127,
      maximum: 0,
      default: -100,
      description: 'advertisements weaker than this are ignored (counted)',
    }),
    unmatched: StringEnum(
      ['count', 'track'] as const,
      'count',
      'devices that match no registry entry: only counted, or tracked for presence by their hashed address',
    ),
    record: Type.Optional(
      Type.String({
        minLength: 1,
        description: 'append every advertisement to this JSON-lines file (holds raw addresses: sensitive)',
      }),
    ),
    replay: Type.Optional(
      Type.String({
        minLength: 1,
        description: 'read advertisements from this recording instead of an adapter',
      }),
    ),
    replaySpeed: Type.Number({
      minimum: 0,
      maximum: 1000,
      default: 1,
      description: 'replay speed factor; 0 = as fast as possible',
    }),
    reopen: Section(
      {
        minMs: Type.Integer({ minimum: 10, default: 1000, description: 'first retry delay' }),
        maxMs: Type.Integer({ minimum: 100, default: 30000, description: 'longest retry delay' }),
      },
      'retry backoff when the adapter cannot be opened',
    ),
  },
  { additionalProperties: false },
);
export type BleBeaconsConfig = Static<typeof BleBeaconsConfig>;
