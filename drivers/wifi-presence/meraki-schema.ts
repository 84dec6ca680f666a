import { type Static, Type } from '@sinclair/typebox';

/*
 * Cisco Meraki Scanning API v3 post bodies (PROTOCOLS.md §6). Only the fields the receiver uses are
 * checked; others pass. Numbers may come as strings (the documentation's sample) or numbers (real
 * captures), and optional fields may be null.
 */

const NumberLike = Type.Union([Type.Number(), Type.String({ pattern: '^\\s*-?[0-9]+(\\.[0-9]+)?\\s*$' })], {
  description: 'a number, or a string holding one',
});
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);
const Mac = Type.String({ pattern: '^[0-9a-fA-F]{2}([:-]?[0-9a-fA-F]{2}){5}$' });
const Time = Type.Union([Type.String({ minLength: 1 }), Type.Number()]);

export const RssiRecord = Type.Object({ apMac: Mac, rssi: NumberLike });

export const MerakiLocation = Type.Object({
  x: Type.Optional(Nullable(NumberLike)),
  y: Type.Optional(Nullable(NumberLike)),
  variance: Type.Optional(Nullable(NumberLike)),
  floorPlanId: Type.Optional(Nullable(Type.String())),
  nearestApTags: Type.Optional(Nullable(Type.Array(Type.String()))),
  time: Type.Optional(Nullable(Time)),
  rssiRecords: Type.Optional(Nullable(Type.Array(RssiRecord))),
});

export const MerakiObservation = Type.Object({
  clientMac: Mac,
  locations: Type.Optional(Nullable(Type.Array(MerakiLocation))),
  latestRecord: Type.Optional(
    Nullable(
      Type.Object({
        time: Type.Optional(Nullable(Time)),
        nearestApMac: Type.Optional(Nullable(Mac)),
        nearestApRssi: Type.Optional(Nullable(NumberLike)),
      }),
    ),
  ),
  bleBeacons: Type.Optional(
    Nullable(
      Type.Array(
        Type.Object({
          rawData: Type.Optional(Nullable(Type.String({ pattern: '^([0-9a-fA-F]{2})*$' }))),
          bleType: Type.Optional(Nullable(Type.String())),
        }),
      ),
    ),
  ),
});

export const MerakiPost = Type.Object({
  version: Type.Union([
    Type.String({ pattern: '^3(\\.|$)' }),
    Type.Number({ minimum: 3, maximum: 4, exclusiveMaximum: 4 }),
  ]),
  secret: Type.String(),
  type: Type.Unsafe<'WiFi' | 'BLE' | 'Bluetooth'>({ type: 'string', enum: ['WiFi', 'BLE', 'Bluetooth'] }),
  data: Type.Object({
    networkId: Type.Optional(Nullable(Type.String())),
    observations: Type.Array(MerakiObservation, { maxItems: 100_000 }),
  }),
});

export type MerakiPost = Static<typeof MerakiPost>;
export type MerakiObservation = Static<typeof MerakiObservation>;
export type MerakiLocation = Static<typeof MerakiLocation>;
