import {
  buildSsiFrame,
  NAK_CAUSE,
  SSI_MAX_DATA,
  SSI_OPCODE,
  SSI_SOURCE,
  SSI_STATUS,
  type SsiFrame,
  SsiFrameParser,
} from '../drivers/serial-scanner/ssi.js';
import { PtyPort } from './pty/pty-port.js';

export interface SsiScannerOptions {
  /** Where the device appears, as a udev link would (the gateway's `path`). */
  linkPath: string;
  /** How long to wait for the host's ACK before retransmitting. */
  ackTimeoutMs?: number;
  /** Transmissions of one packet before giving up. */
  maxTries?: number;
}

export interface SsiScanOptions {
  /** SSI code type (default 0x0B, EAN-13). */
  codeType?: number;
  /** Corrupt the checksum of the first transmission of each packet. */
  corruptFirst?: boolean;
  /** Act as if the host's first ACK were lost on the line: retransmit anyway. */
  loseFirstAck?: boolean;
  /** Largest data per packet, to force multi-packet DECODE_DATA (default: as much as fits). */
  packetData?: number;
}

export interface SsiScanOutcome {
  acked: boolean;
  transmissions: number;
  naks: number[];
}

type HostReply = { type: 'ack' } | { type: 'nak'; cause: number };

/**
 * A Zebra scanner in SSI mode on a real pseudo-terminal. It sends DECODE_DATA packets, waits for
 * the host's ACK and retransmits (retransmit bit set) on NAK or silence; it acknowledges host
 * commands (beep, scan enable/disable, …) and records them.
 */
export class SimulatedSsiScanner {
  private port: PtyPort | undefined;
  private readonly parser = new SsiFrameParser();
  private waiter: ((r: HostReply) => void) | undefined;
  /** Frames received from the host (commands, ACKs, NAKs), in order. */
  readonly received: SsiFrame[] = [];
  /** Host commands received (not ACK/NAK), by opcode. */
  readonly commands: SsiFrame[] = [];
  wakeups = 0;
  enabled = true;
  /** Answer host commands with NAK DENIED instead of ACK. */
  denyCommands = false;

  constructor(readonly options: SsiScannerOptions) {}

  get plugged(): boolean {
    return this.port?.open === true;
  }

  get acks(): number {
    return this.received.filter((f) => f.opcode === SSI_OPCODE.ack).length;
  }

  get naks(): SsiFrame[] {
    return this.received.filter((f) => f.opcode === SSI_OPCODE.nak);
  }

  async plug(): Promise<void> {
    if (this.plugged) return;
    this.parser.reset();
    this.port = await PtyPort.open(this.options.linkPath);
    this.port.on('data', (chunk) => this.onData(chunk));
  }

  async unplug(): Promise<void> {
    await this.port?.close();
    this.port = undefined;
  }

  private onData(chunk: Buffer): void {
    // WAKEUP is a lone 0x00 before a command: the parser skips it as noise.
    this.wakeups += chunk.filter((b) => b === 0).length;
    for (const r of this.parser.push(chunk)) {
      if (!r.ok) continue;
      const f = r.frame;
      this.received.push(f);
      if (f.opcode === SSI_OPCODE.ack || f.opcode === SSI_OPCODE.nak) {
        const w = this.waiter;
        this.waiter = undefined;
        w?.(f.opcode === SSI_OPCODE.ack ? { type: 'ack' } : { type: 'nak', cause: f.data[0] ?? 0 });
        continue;
      }
      this.commands.push(f);
      if (f.opcode === SSI_OPCODE.scanEnable) this.enabled = true;
      if (f.opcode === SSI_OPCODE.scanDisable) this.enabled = false;
      const reply = this.denyCommands
        ? buildSsiFrame({
            opcode: SSI_OPCODE.nak,
            source: SSI_SOURCE.decoder,
            data: Uint8Array.of(NAK_CAUSE.denied),
          })
        : buildSsiFrame({ opcode: SSI_OPCODE.ack, source: SSI_SOURCE.decoder });
      void this.port?.write(reply).catch(() => undefined);
    }
  }

  /** The DECODE_DATA packets for one barcode (before any retransmission). */
  packets(text: string, opts: SsiScanOptions = {}): Buffer[][] {
    const data = Buffer.from(text, 'utf8');
    const room = Math.min(opts.packetData ?? SSI_MAX_DATA - 1, SSI_MAX_DATA - 1);
    const out: Buffer[][] = [];
    for (let at = 0; at === 0 || at < data.length; at += room) {
      const piece = data.subarray(at, at + room);
      const last = at + room >= data.length;
      const payload = Buffer.concat([Buffer.of(opts.codeType ?? 0x0b), piece]);
      const status = last ? 0 : SSI_STATUS.continuation;
      out.push([
        buildSsiFrame({ opcode: SSI_OPCODE.decodeData, source: SSI_SOURCE.decoder, status, data: payload }),
        buildSsiFrame({
          opcode: SSI_OPCODE.decodeData,
          source: SSI_SOURCE.decoder,
          status: status | SSI_STATUS.retransmit,
          data: payload,
        }),
      ]);
    }
    return out;
  }

  /** Sends one barcode as DECODE_DATA and waits for the host's ACK of every packet. */
  async scan(text: string, opts: SsiScanOptions = {}): Promise<SsiScanOutcome> {
    const outcome: SsiScanOutcome = { acked: true, transmissions: 0, naks: [] };
    for (const [first, again] of this.packets(text, opts)) {
      const acked = await this.transmit(first as Buffer, again as Buffer, opts, outcome);
      if (!acked) return { ...outcome, acked: false };
    }
    return outcome;
  }

  private async transmit(first: Buffer, again: Buffer, opts: SsiScanOptions, outcome: SsiScanOutcome) {
    const tries = this.options.maxTries ?? 3;
    for (let attempt = 0; attempt < tries; attempt++) {
      let frame = attempt === 0 ? first : again;
      if (attempt === 0 && opts.corruptFirst) {
        frame = Buffer.from(frame);
        frame[frame.length - 1] = (frame[frame.length - 1] as number) ^ 0xff;
      }
      const reply = await this.sendAndWait(frame);
      outcome.transmissions++;
      if (reply?.type === 'nak') outcome.naks.push(reply.cause);
      const lost = attempt === 0 && opts.loseFirstAck && reply?.type === 'ack';
      if (reply?.type === 'ack' && !lost) return true;
    }
    return false;
  }

  private sendAndWait(frame: Buffer): Promise<HostReply | undefined> {
    const port = this.port;
    if (!port) return Promise.reject(new Error(`${this.options.linkPath} is unplugged`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        resolve(undefined);
      }, this.options.ackTimeoutMs ?? 500);
      this.waiter = (r) => {
        clearTimeout(timer);
        resolve(r);
      };
      port.write(frame).catch((e: Error) => {
        clearTimeout(timer);
        reject(e);
      });
    });
  }
}
