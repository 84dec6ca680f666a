import { type Static, Type } from '@sinclair/typebox';
import { IntEnum, Section, StringEnum, TopicSafeId } from '../../src/config/types.js';
import { DedupeConfig } from '../../src/pipeline/dedupe.js';

/**
 * Frame boundaries on the wire. Exactly one of:
 * - `suffix`: frames end with this string (CR LF by default; Honeywell and Datalogic ship with it);
 * - `stx: true`: frames are STX (0x02) … ETX (0x03), Olivetti host mode;
 * - `idleMs`: a frame ends when the line is quiet this long (Zebra's factory "data as is").
 */
export const Framing = Type.Object(
  {
    suffix: Type.Optional(Type.String({ minLength: 1, maxLength: 8, description: 'frame terminator' })),
    stx: Type.Optional(Type.Literal(true, { description: 'STX … ETX framing' })),
    idleMs: Type.Optional(
      Type.Integer({ minimum: 5, maximum: 5000, description: 'end a frame after this many ms of silence' }),
    ),
  },
  {
    additionalProperties: false,
    minProperties: 1,
    maxProperties: 1,
    default: { suffix: '\r\n' },
    description: 'how frames are delimited: exactly one of suffix, stx, idleMs',
  },
);
export type Framing = Static<typeof Framing>;

export const UsbMatch = Type.Object(
  {
    vendorId: Type.Optional(
      Type.String({ pattern: '^[0-9a-fA-F]{4}$', description: 'USB vendor id, 4 hex digits' }),
    ),
    productId: Type.Optional(
      Type.String({ pattern: '^[0-9a-fA-F]{4}$', description: 'USB product id, 4 hex digits' }),
    ),
    serialNumber: Type.Optional(Type.String({ minLength: 1, description: 'USB serial number' })),
  },
  { additionalProperties: false, minProperties: 1, description: 'find the port by USB identity' },
);
export type UsbMatch = Static<typeof UsbMatch>;

export const SerialScannerConfig = Type.Object(
  {
    id: TopicSafeId('device id; one MQTT topic level'),
    kind: Type.Literal('serial-scanner'),
    path: Type.Optional(
      Type.String({ minLength: 1, description: 'device path, e.g. /dev/ttyUSB0 or a udev link' }),
    ),
    match: Type.Optional(UsbMatch),
    replay: Type.Optional(
      Type.String({ minLength: 1, description: 'feed a recorded .jsonl file through the driver instead' }),
    ),
    replaySpeed: Type.Number({
      minimum: 0,
      maximum: 1000,
      default: 1,
      description: 'with replay: 1 = recorded timing, 2 = twice as fast, 0 = as fast as possible',
    }),
    protocol: StringEnum(
      ['raw', 'ssi'] as const,
      'raw',
      'raw: framed text (framing, aim); ssi: Zebra SSI packets with ACK/NAK (framing is not used)',
    ),
    baudRate: Type.Integer({ minimum: 300, maximum: 4_000_000, default: 9600, description: 'line speed' }),
    dataBits: IntEnum([7, 8] as const, 8, 'data bits'),
    parity: StringEnum(['none', 'even', 'odd'] as const, 'none', 'parity'),
    stopBits: IntEnum([1, 2] as const, 1, 'stop bits'),
    rtscts: Type.Boolean({ default: false, description: 'RTS/CTS hardware handshake' }),
    framing: Framing,
    aim: Type.Boolean({ default: false, description: 'frames start with an AIM symbology identifier (]Cm)' }),
    maxFrameBytes: Type.Integer({
      minimum: 16,
      maximum: 65536,
      default: 4096,
      description: 'longer frames are discarded and counted',
    }),
    partialTimeoutMs: Type.Integer({
      minimum: 50,
      maximum: 60000,
      default: 1000,
      description: 'a partial frame older than this (no terminator yet) is discarded and counted',
    }),
    reopen: Section(
      {
        minMs: Type.Integer({ minimum: 10, default: 250, description: 'first retry delay' }),
        maxMs: Type.Integer({ minimum: 100, default: 1000, description: 'longest retry delay' }),
      },
      'reopen backoff after the port is lost or cannot be opened',
    ),
    dedupe: DedupeConfig,
  },
  { additionalProperties: false },
);
export type SerialScannerConfig = Static<typeof SerialScannerConfig>;
