import { type Static, Type } from '@sinclair/typebox';
import { Section, StringEnum, TopicSafeId } from '../../src/config/types.js';
import { LAYOUT_NAMES } from './layouts.js';

const Hex4 = (description: string) =>
  Type.Optional(Type.String({ pattern: '^[0-9a-fA-F]{4}$', description }));

export const HidMatch = Type.Object(
  {
    vendorId: Hex4('USB vendor id, 4 hex digits'),
    productId: Hex4('USB product id, 4 hex digits'),
    serialNumber: Type.Optional(Type.String({ minLength: 1, description: 'USB serial number' })),
    usagePage: Hex4('HID usage page of the interface, 4 hex digits (008c = HID POS, 0001 = keyboard)'),
  },
  { additionalProperties: false, minProperties: 1, description: 'find the HID interface by USB identity' },
);
export type HidMatch = Static<typeof HidMatch>;

export const HidScannerConfig = Type.Object(
  {
    id: TopicSafeId('device id; one MQTT topic level'),
    kind: Type.Literal('hid-scanner'),
    mode: Type.Unsafe<'keyboard-wedge' | 'hid-pos'>({
      type: 'string',
      enum: ['keyboard-wedge', 'hid-pos'],
      description:
        'keyboard-wedge: boot-keyboard reports; hid-pos: HID POS scanned-data reports (usage page 0x8C)',
    }),
    path: Type.Optional(Type.String({ minLength: 1, description: 'hidraw device path, e.g. /dev/hidraw0' })),
    match: Type.Optional(HidMatch),
    replay: Type.Optional(
      Type.String({ minLength: 1, description: 'feed a recorded .jsonl file through the driver instead' }),
    ),
    replaySpeed: Type.Number({
      minimum: 0,
      maximum: 1000,
      default: 1,
      description: 'with replay: 1 = recorded timing, 2 = twice as fast, 0 = as fast as possible',
    }),
    wedge: Section(
      {
        layout: StringEnum(
          LAYOUT_NAMES,
          'us',
          'keyboard layout the scanner is set to (its "keyboard country")',
        ),
        terminators: Type.Array(StringEnum(['enter', 'tab'] as const, 'enter', 'terminator key'), {
          uniqueItems: true,
          maxItems: 2,
          default: ['enter'],
          description: 'keys that end a scan (enter includes keypad Enter)',
        }),
        idleMs: Type.Integer({
          minimum: 10,
          maximum: 5000,
          default: 100,
          description: 'a scan also ends after this many ms without a key (scanners without a terminator)',
        }),
      },
      'keyboard-wedge decoding',
    ),
    aim: Type.Boolean({
      default: false,
      description: 'keyboard-wedge: scans start with an AIM symbology identifier (]Cm)',
    }),
    maxScanBytes: Type.Integer({
      minimum: 16,
      maximum: 65536,
      default: 4096,
      description: 'longer scans are discarded and counted',
    }),
    partialTimeoutMs: Type.Integer({
      minimum: 50,
      maximum: 60000,
      default: 1000,
      description: 'hid-pos: a continued barcode whose next report does not come within this is discarded',
    }),
    dedupe: Section(
      {
        windowMs: Type.Integer({
          minimum: 0,
          default: 0,
          description:
            'the same text from this device within this many ms is one event with a count; 0 = off',
        }),
      },
      'duplicate suppression',
    ),
    reopen: Section(
      {
        minMs: Type.Integer({ minimum: 10, default: 250, description: 'first retry delay' }),
        maxMs: Type.Integer({ minimum: 100, default: 1000, description: 'longest retry delay' }),
      },
      'reopen backoff after the device is lost or cannot be opened',
    ),
  },
  { additionalProperties: false },
);
export type HidScannerConfig = Static<typeof HidScannerConfig>;
