/**
 * Zebra SSI (Simple Serial Interface) frames. Pure: builders, a checksum, and a stream parser.
 *
 * Frame: `Len Opcode Src Status Data… CkHi CkLo`. Len counts every byte but the checksum (so it is
 * at least 4); the checksum is the two's complement of the 16-bit sum of those bytes. Status bits:
 * 0 retransmission, 1 continuation (more packets follow), 3 change type.
 */

export const SSI_OPCODE = {
  ssiMgmt: 0x80,
  replyRevision: 0xa4,
  requestRevision: 0xa3,
  imageData: 0xb1,
  videoData: 0xb4,
  paramSend: 0xc6,
  paramRequest: 0xc7,
  ack: 0xd0,
  nak: 0xd1,
  flushQueue: 0xd2,
  capabilitiesReply: 0xd4,
  batchData: 0xd6,
  startSession: 0xe4,
  stopSession: 0xe5,
  beep: 0xe6,
  ledOn: 0xe7,
  ledOff: 0xe8,
  scanEnable: 0xe9,
  scanDisable: 0xea,
  decodeData: 0xf3,
  event: 0xf6,
} as const;

export const SSI_SOURCE = { decoder: 0x00, host: 0x04 } as const;
export const SSI_STATUS = { retransmit: 0x01, continuation: 0x02, changeType: 0x08 } as const;
/** NAK causes: RESEND (checksum failure), BAD_CONTEXT (unexpected or unknown message), DENIED. */
export const NAK_CAUSE = { resend: 0x01, badContext: 0x02, denied: 0x06 } as const;

/** Opcodes a decoder sends to the host; anything else from it is answered with NAK BAD_CONTEXT. */
export const DECODER_OPCODES: ReadonlySet<number> = new Set([
  SSI_OPCODE.ssiMgmt,
  SSI_OPCODE.replyRevision,
  SSI_OPCODE.imageData,
  SSI_OPCODE.videoData,
  SSI_OPCODE.paramSend,
  SSI_OPCODE.ack,
  SSI_OPCODE.nak,
  SSI_OPCODE.capabilitiesReply,
  SSI_OPCODE.batchData,
  SSI_OPCODE.decodeData,
  SSI_OPCODE.event,
]);

export interface SsiFrame {
  opcode: number;
  source: number;
  status: number;
  data: Buffer;
}

/** Largest body: Len is one byte. */
export const SSI_MAX_DATA = 255 - 4;

/** Two's complement of the 16-bit sum of `bytes`. */
export function ssiChecksum(bytes: Uint8Array): number {
  let sum = 0;
  for (const b of bytes) sum = (sum + b) & 0xffff;
  return (0x10000 - sum) & 0xffff;
}

/** The bytes of one frame. Throws on data longer than one frame can carry (a programming error). */
export function buildSsiFrame(f: {
  opcode: number;
  source: number;
  status?: number;
  data?: Uint8Array;
}): Buffer {
  const data = f.data ?? new Uint8Array(0);
  if (data.length > SSI_MAX_DATA) throw new RangeError(`SSI data over ${SSI_MAX_DATA} bytes`);
  const body = Buffer.from([4 + data.length, f.opcode, f.source, f.status ?? 0, ...data]);
  const ck = ssiChecksum(body);
  return Buffer.concat([body, Buffer.from([ck >> 8, ck & 0xff])]);
}

export const hostAck = (): Buffer => buildSsiFrame({ opcode: SSI_OPCODE.ack, source: SSI_SOURCE.host });
export const hostNak = (cause: number): Buffer =>
  buildSsiFrame({ opcode: SSI_OPCODE.nak, source: SSI_SOURCE.host, data: Uint8Array.of(cause) });

export type SsiParseError = 'bad-checksum' | 'noise' | 'incomplete';
export type SsiParseResult =
  | { ok: true; frame: SsiFrame; raw: Buffer }
  | { ok: false; error: SsiParseError; bytes: number };

/**
 * Cuts an SSI byte stream into frames. A length byte below 4 cannot start a frame: such bytes are
 * skipped and reported once per run as `noise`. A frame whose checksum fails is dropped whole
 * (`bad-checksum`); the session answers it with NAK RESEND. Pure; the driver calls `flush()` when a
 * partial frame has waited too long.
 */
export class SsiFrameParser {
  private buf: Buffer = Buffer.alloc(0);

  get hasPartial(): boolean {
    return this.buf.length > 0;
  }

  push(chunk: Uint8Array): SsiParseResult[] {
    this.buf = this.buf.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.buf, chunk]);
    const out: SsiParseResult[] = [];
    let noise = 0;
    let at = 0;
    const buf = this.buf;
    while (at < buf.length) {
      const len = buf[at] as number;
      if (len < 4) {
        noise++;
        at++;
        continue;
      }
      if (at + len + 2 > buf.length) break;
      if (noise > 0) out.push({ ok: false, error: 'noise', bytes: noise });
      noise = 0;
      const body = buf.subarray(at, at + len);
      const ck = ((buf[at + len] as number) << 8) | (buf[at + len + 1] as number);
      const raw = Buffer.from(buf.subarray(at, at + len + 2));
      at += len + 2;
      if (ck !== ssiChecksum(body)) {
        out.push({ ok: false, error: 'bad-checksum', bytes: raw.length });
        continue;
      }
      out.push({
        ok: true,
        raw,
        frame: {
          opcode: raw[1] as number,
          source: raw[2] as number,
          status: raw[3] as number,
          data: raw.subarray(4, len),
        },
      });
    }
    if (noise > 0) out.push({ ok: false, error: 'noise', bytes: noise });
    this.buf = Buffer.from(buf.subarray(at));
    return out;
  }

  /** A partial frame waited too long: drop it. */
  flush(): SsiParseResult[] {
    const bytes = this.buf.length;
    this.buf = Buffer.alloc(0);
    return bytes > 0 ? [{ ok: false, error: 'incomplete', bytes }] : [];
  }

  reset(): void {
    this.buf = Buffer.alloc(0);
  }
}

/** DECODE_DATA code types (SSI Programmer's Guide), named like `describeAim` where both exist. */
export const SSI_CODE_TYPES: Readonly<Record<number, string>> = {
  1: 'code-39',
  2: 'codabar',
  3: 'code-128',
  4: 'discrete-2of5',
  5: 'iata-2of5',
  6: 'itf',
  7: 'code-93',
  8: 'upc-a',
  9: 'upc-e',
  10: 'ean-8',
  11: 'ean-13',
  12: 'code-11',
  14: 'msi',
  15: 'gs1-128',
  16: 'upc-e1',
  17: 'pdf417',
  19: 'code-39-full-ascii',
  21: 'code-39-trioptic',
  22: 'bookland',
  23: 'coupon',
  25: 'isbt-128',
  26: 'micro-pdf417',
  27: 'datamatrix',
  28: 'qr',
  37: 'maxicode',
  45: 'aztec',
  48: 'gs1-databar',
  49: 'gs1-databar-limited',
  50: 'gs1-databar-expanded',
  72: 'upc-a-addon-2',
  75: 'ean-13-addon-2',
  136: 'upc-a-addon-5',
  139: 'ean-13-addon-5',
};

export function describeCodeType(code: number): string {
  return SSI_CODE_TYPES[code] ?? `ssi-0x${code.toString(16).padStart(2, '0')}`;
}
