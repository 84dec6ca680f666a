import type { Framing } from '../drivers/serial-scanner/config.js';
import { sleep } from '../src/util/sleep.js';
import type { SimBarcode } from './barcodes.js';
import { PtyPort } from './pty/pty-port.js';

export interface SimulatedScannerOptions {
  /** Where the device appears, as a udev link would (the gateway's `path`). */
  linkPath: string;
  framing: Framing;
  /** Prefix each frame with its AIM identifier. */
  aim?: boolean;
}

/**
 * A barcode scanner on a real pseudo-terminal. It frames each barcode the way the configured
 * scanner would (suffix, STX/ETX or nothing with a pause), can type at a steady rate, and can be
 * unplugged and plugged back in.
 */
export class SimulatedSerialScanner {
  private port: PtyPort | undefined;
  /** Bytes the gateway wrote to the scanner (host commands). */
  readonly received: Buffer[] = [];
  sent = 0;

  constructor(readonly options: SimulatedScannerOptions) {}

  get plugged(): boolean {
    return this.port?.open === true;
  }

  async plug(): Promise<void> {
    if (this.plugged) return;
    this.port = await PtyPort.open(this.options.linkPath);
    this.port.on('data', (chunk) => this.received.push(chunk));
  }

  async unplug(): Promise<void> {
    await this.port?.close();
    this.port = undefined;
  }

  /** The exact bytes this scanner sends for one barcode. */
  frame(code: Pick<SimBarcode, 'text' | 'aim'>): Buffer {
    const body = Buffer.from(this.options.aim ? code.aim + code.text : code.text, 'utf8');
    const { framing } = this.options;
    if (framing.stx) return Buffer.concat([Buffer.from([0x02]), body, Buffer.from([0x03])]);
    if (framing.suffix !== undefined) return Buffer.concat([body, Buffer.from(framing.suffix, 'latin1')]);
    return body;
  }

  /** Sends one barcode. With idle framing, waits out the gap so the next scan is a new frame. */
  async scan(code: Pick<SimBarcode, 'text' | 'aim'>): Promise<void> {
    if (!this.port) throw new Error(`${this.options.linkPath} is unplugged`);
    await this.port.write(this.frame(code));
    this.sent++;
    if (this.options.framing.idleMs !== undefined) await sleep(this.options.framing.idleMs * 2 + 5);
  }

  /**
   * Sends several barcodes in one write, frame after frame, as a busy USB scanner delivers them.
   * Not for idle-gap framing, where only a pause separates frames.
   */
  async scanMany(codes: readonly Pick<SimBarcode, 'text' | 'aim'>[]): Promise<void> {
    if (!this.port) throw new Error(`${this.options.linkPath} is unplugged`);
    if (this.options.framing.idleMs !== undefined)
      throw new Error('idle-gap framing needs a pause between scans');
    await this.port.write(Buffer.concat(codes.map((c) => this.frame(c))));
    this.sent += codes.length;
  }

  /** Scans `next()` at `rate` per second until `count` are sent or `signal` aborts; returns how many. */
  async typeAt(opts: {
    rate: number;
    next: () => SimBarcode;
    count?: number;
    signal?: AbortSignal;
  }): Promise<number> {
    const interval = 1000 / opts.rate;
    const start = performance.now();
    let n = 0;
    while ((opts.count === undefined || n < opts.count) && !opts.signal?.aborted) {
      if (!this.plugged) {
        if (!(await sleep(interval, opts.signal))) break;
        continue;
      }
      await this.scan(opts.next());
      n++;
      const wait = start + (n + 1) * interval - performance.now();
      if (wait > 0 && !(await sleep(wait, opts.signal))) break;
    }
    return n;
  }
}
