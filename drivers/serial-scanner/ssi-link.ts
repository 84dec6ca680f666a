import { sleep } from '../../src/util/sleep.js';
import type { ScanReading } from './decode.js';
import { buildSsiFrame, NAK_CAUSE, SSI_OPCODE, SSI_SOURCE, SSI_STATUS } from './ssi.js';
import { type SsiAction, SsiSession } from './ssi-session.js';

/** Host commands a scanner driver accepts, with their arguments. */
export interface ScannerCommandArgs {
  /** Sound the scanner's beeper; `tone` is the SSI beep code 0–25 (default 0: one short high beep). */
  beep: { tone?: number };
  'scan-enable': Record<string, never>;
  'scan-disable': Record<string, never>;
}
export type ScannerCommandName = keyof ScannerCommandArgs;
export const SCANNER_COMMANDS: readonly ScannerCommandName[] = ['beep', 'scan-enable', 'scan-disable'];

export type CommandResult =
  | { ok: true }
  | {
      ok: false;
      error: 'not-connected' | 'unsupported' | 'bad-argument' | 'nak' | 'timeout';
      detail?: string;
    };

/** Retries after a NAK RESEND or no answer; SSI hosts resend once with the retransmit bit set. */
const COMMAND_TRIES = 2;
/** A sleeping scanner without RTS/CTS needs a WAKEUP byte and this pause before a command. */
const WAKEUP_MS = 20;

export interface SsiLinkOptions {
  aim: boolean;
  maxBytes: number;
  /** Without RTS/CTS, each command is preceded by a WAKEUP (0x00). */
  wakeup: boolean;
  commandTimeoutMs: number;
  write(bytes: Buffer): void;
  onScan(reading: ScanReading): void;
  onError(reason: string, detail?: string): void;
}

/**
 * An SSI link on an open serial port: runs the pure `SsiSession` on incoming bytes, writes its
 * ACK/NAKs, and sends host commands one at a time, waiting for the scanner's ACK.
 */
export class SsiLink {
  private readonly session: SsiSession;
  private queue: Promise<unknown> = Promise.resolve();
  private waiting: ((outcome: { type: 'ack' } | { type: 'nak'; cause: number }) => void) | undefined;

  constructor(private readonly opts: SsiLinkOptions) {
    this.session = new SsiSession({ aim: opts.aim, maxBytes: opts.maxBytes });
  }

  get hasPartial(): boolean {
    return this.session.hasPartial;
  }

  onData(chunk: Buffer): void {
    this.run(this.session.push(chunk));
  }

  /** A partial frame waited too long. */
  flush(): void {
    this.run(this.session.flush());
  }

  /** The port was lost: forget partial frames and any command in flight. */
  reset(): void {
    this.session.reset();
    this.waiting?.({ type: 'nak', cause: -1 });
    this.waiting = undefined;
  }

  private run(actions: SsiAction[]): void {
    for (const a of actions) {
      if (a.type === 'write') this.opts.write(a.bytes);
      else if (a.type === 'scan') this.opts.onScan(a.reading);
      else if (a.type === 'error') this.opts.onError(a.error, a.detail);
      else if (a.type === 'ack' || a.type === 'nak') {
        const w = this.waiting;
        this.waiting = undefined;
        w?.(a);
      }
    }
  }

  /** Sends a host command and waits for the scanner's ACK; commands are queued, one in flight. */
  command<N extends ScannerCommandName>(name: N, args?: ScannerCommandArgs[N]): Promise<CommandResult> {
    const frame = commandFrame(name, (args ?? {}) as ScannerCommandArgs[N]);
    if (!frame.ok) return Promise.resolve(frame.result);
    const next = this.queue.then(() => this.send(frame.opcode, frame.data));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async send(opcode: number, data: Uint8Array): Promise<CommandResult> {
    for (let attempt = 0; attempt < COMMAND_TRIES; attempt++) {
      if (this.opts.wakeup) {
        this.opts.write(Buffer.of(0x00));
        await sleep(WAKEUP_MS);
      }
      const status = attempt > 0 ? SSI_STATUS.retransmit : 0;
      const outcome = await new Promise<
        { type: 'ack' } | { type: 'nak'; cause: number } | { type: 'timeout' }
      >((resolve) => {
        const timer = setTimeout(() => {
          this.waiting = undefined;
          resolve({ type: 'timeout' });
        }, this.opts.commandTimeoutMs);
        this.waiting = (o) => {
          clearTimeout(timer);
          resolve(o);
        };
        this.opts.write(buildSsiFrame({ opcode, source: SSI_SOURCE.host, status, data }));
      });
      if (outcome.type === 'ack') return { ok: true };
      if (outcome.type === 'nak' && outcome.cause === -1) return { ok: false, error: 'not-connected' };
      if (outcome.type === 'nak' && outcome.cause !== NAK_CAUSE.resend)
        return { ok: false, error: 'nak', detail: `cause 0x${outcome.cause.toString(16)}` };
    }
    return { ok: false, error: 'timeout', detail: `no ACK after ${COMMAND_TRIES} tries` };
  }
}

type Built = { ok: true; opcode: number; data: Uint8Array } | { ok: false; result: CommandResult };

function commandFrame<N extends ScannerCommandName>(name: N, args: ScannerCommandArgs[N]): Built {
  switch (name) {
    case 'beep': {
      const tone = (args as ScannerCommandArgs['beep']).tone ?? 0;
      if (!Number.isInteger(tone) || tone < 0 || tone > 25)
        return { ok: false, result: { ok: false, error: 'bad-argument', detail: 'tone must be 0–25' } };
      return { ok: true, opcode: SSI_OPCODE.beep, data: Uint8Array.of(tone) };
    }
    case 'scan-enable':
      return { ok: true, opcode: SSI_OPCODE.scanEnable, data: new Uint8Array(0) };
    case 'scan-disable':
      return { ok: true, opcode: SSI_OPCODE.scanDisable, data: new Uint8Array(0) };
    default:
      return {
        ok: false,
        result: { ok: false, error: 'unsupported', detail: `unknown command ${String(name)}` },
      };
  }
}
