import { splitAim } from '../../src/barcode/aim.js';
import type { ScanReading } from './decode.js';
import { decodeScan } from './decode.js';
import {
  DECODER_OPCODES,
  describeCodeType,
  hostAck,
  hostNak,
  NAK_CAUSE,
  SSI_OPCODE,
  SSI_STATUS,
  type SsiFrame,
  SsiFrameParser,
  type SsiParseResult,
} from './ssi.js';

export type SsiError =
  | 'bad-checksum'
  | 'noise'
  | 'incomplete'
  | 'duplicate'
  | 'unknown-opcode'
  | 'too-long'
  | 'empty'
  | 'missing-aim';

/** What the host must do after some bytes arrived. The session itself does no I/O. */
export type SsiAction =
  | { type: 'write'; bytes: Buffer }
  | { type: 'scan'; reading: ScanReading }
  | { type: 'error'; error: SsiError; detail?: string }
  /** The scanner acknowledged (or refused, with a NAK cause) the host's last command. */
  | { type: 'ack' }
  | { type: 'nak'; cause: number }
  /** Another message from the scanner (EVENT, REPLY_REVISION, PARAM_SEND …), acknowledged. */
  | { type: 'message'; frame: SsiFrame };

/**
 * The host side of an SSI link: ACK after each good frame, NAK RESEND on a bad checksum, NAK
 * BAD_CONTEXT on an unknown message; a retransmitted copy of the frame just accepted (its ACK was
 * lost) is acknowledged again and dropped; multi-packet DECODE_DATA is joined. Pure.
 */
export class SsiSession {
  private readonly parser = new SsiFrameParser();
  private last: Buffer | undefined;
  private parts: Buffer[] = [];
  private size = 0;
  private codeType = 0;

  constructor(private readonly opts: { aim: boolean; maxBytes: number }) {}

  get hasPartial(): boolean {
    return this.parser.hasPartial;
  }

  push(chunk: Uint8Array): SsiAction[] {
    return this.parser.push(chunk).flatMap((r) => this.onParsed(r));
  }

  /** A partial frame waited too long. */
  flush(): SsiAction[] {
    return this.parser.flush().flatMap((r) => this.onParsed(r));
  }

  reset(): void {
    this.parser.reset();
    this.last = undefined;
    this.parts = [];
    this.size = 0;
  }

  private onParsed(r: SsiParseResult): SsiAction[] {
    if (!r.ok) {
      // The scanner's next frame resends the one lost here, not the one accepted before it.
      this.last = undefined;
      const error: SsiAction = { type: 'error', error: r.error, detail: `${r.bytes} bytes` };
      return r.error === 'bad-checksum'
        ? [{ type: 'write', bytes: hostNak(NAK_CAUSE.resend) }, error]
        : [error];
    }
    const { frame, raw } = r;
    if (frame.opcode === SSI_OPCODE.ack) return [{ type: 'ack' }];
    if (frame.opcode === SSI_OPCODE.nak) return [{ type: 'nak', cause: frame.data[0] ?? 0 }];
    if (!DECODER_OPCODES.has(frame.opcode)) {
      return [
        { type: 'write', bytes: hostNak(NAK_CAUSE.badContext) },
        { type: 'error', error: 'unknown-opcode', detail: `opcode 0x${frame.opcode.toString(16)}` },
      ];
    }
    const ack: SsiAction = { type: 'write', bytes: hostAck() };
    const key = identity(raw);
    if ((frame.status & SSI_STATUS.retransmit) !== 0 && this.last?.equals(key)) {
      return [ack, { type: 'error', error: 'duplicate', detail: 'retransmission of an acknowledged frame' }];
    }
    this.last = key;
    if (frame.opcode !== SSI_OPCODE.decodeData) return [ack, { type: 'message', frame }];
    return [ack, ...this.decodeData(frame)];
  }

  private decodeData(frame: SsiFrame): SsiAction[] {
    if (this.parts.length === 0) this.codeType = frame.data[0] ?? 0;
    const segment = frame.data.subarray(1);
    this.parts.push(Buffer.from(segment));
    this.size += segment.length;
    if ((frame.status & SSI_STATUS.continuation) !== 0) {
      if (this.size <= this.opts.maxBytes) return [];
      const bytes = this.size;
      this.parts = [];
      this.size = 0;
      return [{ type: 'error', error: 'too-long', detail: `${bytes} bytes` }];
    }
    const data = Buffer.concat(this.parts);
    this.parts = [];
    this.size = 0;
    if (data.length > this.opts.maxBytes)
      return [{ type: 'error', error: 'too-long', detail: `${data.length} bytes` }];
    return [this.reading(data, this.codeType)];
  }

  private reading(data: Buffer, codeType: number): SsiAction {
    const decoded = decodeScan(data, { aim: false });
    if (!decoded.ok) return { type: 'error', error: 'empty' };
    const text = decoded.value.text;
    if (!this.opts.aim) return { type: 'scan', reading: { text, symbology: describeCodeType(codeType) } };
    const split = splitAim(text);
    if (!split) return { type: 'error', error: 'missing-aim', detail: `${data.length} bytes` };
    if (split.rest.length === 0) return { type: 'error', error: 'empty' };
    return {
      type: 'scan',
      reading: { text: split.rest, aim: split.info.aim, symbology: split.info.symbology },
    };
  }
}

/** A frame without its retransmit bit and checksum: equal for a frame and its retransmission. */
function identity(raw: Buffer): Buffer {
  const key = Buffer.from(raw.subarray(0, raw.length - 2));
  key[3] = (key[3] as number) & ~SSI_STATUS.retransmit;
  return key;
}
