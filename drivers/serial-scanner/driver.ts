import type { DeviceHealth, DeviceState, Driver, DriverContext } from '../../src/drivers/contract.js';
import { GatewayError } from '../../src/errors.js';
import { Backoff } from '../../src/uplink/backoff.js';
import { sleep } from '../../src/util/sleep.js';
import type { SerialScannerConfig } from './config.js';
import { decodeScan } from './decode.js';
import { type FrameResult, Framer } from './framer.js';
import { type CommandResult, type ScannerCommandArgs, type ScannerCommandName, SsiLink } from './ssi-link.js';
import type { SerialPortInfo, SerialPortLike, SerialTransport } from './transport.js';

/** Device command names central uses → SSI host commands. */
const DEVICE_COMMANDS: Record<string, ScannerCommandName> = {
  beep: 'beep',
  enable: 'scan-enable',
  disable: 'scan-disable',
};

type Ctx = DriverContext<SerialScannerConfig, SerialTransport>;

/** Picks the port a `match` names; `undefined` when none does. Pure. */
export function matchPort(
  ports: readonly SerialPortInfo[],
  match: NonNullable<SerialScannerConfig['match']>,
) {
  const eq = (a: string | undefined, b: string | undefined) =>
    b === undefined || a?.toLowerCase() === b.toLowerCase();
  return ports
    .filter((p) => eq(p.vendorId, match.vendorId) && eq(p.productId, match.productId))
    .filter((p) => match.serialNumber === undefined || p.serialNumber === match.serialNumber)
    .sort((a, b) => a.path.localeCompare(b.path))[0];
}

/**
 * A barcode scanner on a serial line (RS-232 or USB CDC-ACM). Opens the port by path or by USB
 * identity, frames the byte stream, decodes each frame and emits `retail.scan.v1`; reopens by itself
 * when the device goes away, with a `retail.device.status.v1` event at every change.
 */
export class SerialScannerDriver implements Driver<SerialScannerConfig, SerialTransport> {
  readonly kind = 'serial-scanner';
  private ctx: Ctx | undefined;
  private readonly abort = new AbortController();
  private port: SerialPortLike | undefined;
  private framer: Framer | undefined;
  /** With `protocol: ssi`: the SSI link that replaces framing. */
  private ssi: SsiLink | undefined;
  private timer: NodeJS.Timeout | undefined;
  private loop: Promise<void> | undefined;
  private state: DeviceState = 'starting';
  private since = Date.now();
  private path: string | undefined;
  private lastChunkAt = 0;
  private readings = 0;
  private decodeErrors = 0;
  private reopens = 0;
  private connectedOnce = false;
  private lastReadingAt: number | undefined;
  private lastError: string | undefined;

  constructor(readonly id: string) {}

  async start(ctx: Ctx): Promise<void> {
    this.ctx = ctx;
    this.since = ctx.clock.now();
    ctx.signal.addEventListener('abort', () => this.abort.abort(), { once: true });
    this.framer = new Framer(ctx.config.framing, ctx.config.maxFrameBytes);
    if (ctx.config.protocol === 'ssi') this.ssi = this.createSsiLink(ctx);
    let firstAttempt: () => void = () => {};
    const attempted = new Promise<void>((resolve) => {
      firstAttempt = resolve;
    });
    this.loop = this.run(ctx, firstAttempt);
    await attempted;
  }

  private async run(ctx: Ctx, firstAttempt: () => void): Promise<void> {
    const { config, transport } = ctx;
    const signal = this.abort.signal;
    const backoff = Backoff.doubling(config.reopen.minMs, config.reopen.maxMs);
    let attempt = 0;
    while (!signal.aborted) {
      let port: SerialPortLike;
      let path: string | undefined;
      try {
        path = await this.resolvePath(ctx);
        port = await transport.open({
          path,
          baudRate: config.baudRate,
          dataBits: config.dataBits,
          parity: config.parity,
          stopBits: config.stopBits,
          rtscts: config.rtscts,
        });
      } catch (err) {
        this.setState('unavailable', (err as Error).message, path, attempt);
        firstAttempt();
        attempt++;
        await sleep(backoff.next(), signal);
        continue;
      }
      if (signal.aborted) {
        await port.close();
        break;
      }
      backoff.reset();
      if (this.connectedOnce) {
        this.reopens++;
        ctx.metrics.deviceReconnects.inc({ device: this.id });
      }
      this.port = port;
      this.connectedOnce = true;
      this.setState('connected', undefined, path, attempt);
      attempt = 0;
      firstAttempt();
      const reason = await this.readUntilClosed(port);
      this.port = undefined;
      this.clearTimer();
      this.framer?.reset();
      this.ssi?.reset();
      if (signal.aborted) break;
      this.setState('disconnected', reason, path, 0);
      await sleep(config.reopen.minMs, signal);
    }
  }

  private async resolvePath(ctx: Ctx): Promise<string> {
    const { path, match, replay } = ctx.config;
    if (replay) return replay;
    if (path) return path;
    if (!match) throw new Error('none of path, match or replay is configured');
    const port = matchPort(await ctx.transport.list(), match);
    if (!port) throw new Error(`no serial port matches ${JSON.stringify(match)}`);
    return port.path;
  }

  private readUntilClosed(port: SerialPortLike): Promise<string> {
    return new Promise<string>((resolve) => {
      let done = false;
      const finish = (reason: string) => {
        if (done) return;
        done = true;
        this.abort.signal.removeEventListener('abort', onAbort);
        resolve(reason);
      };
      const onAbort = () => {
        void port.close().then(() => finish('stopped'));
      };
      port.on('data', (chunk) => this.onData(chunk));
      port.on('close', (err) => finish(err?.message ?? 'port closed'));
      port.on('error', (err) => {
        this.lastError = err.message;
        void port.close().then(() => finish(err.message));
      });
      this.abort.signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  private onData(chunk: Buffer): void {
    const framer = this.framer;
    const ctx = this.ctx;
    if (!framer || !ctx) return;
    this.lastChunkAt = ctx.clock.now();
    if (this.ssi) {
      this.onSsiData(this.ssi, chunk, ctx);
      return;
    }
    for (const r of framer.push(chunk)) this.onFrame(r, this.lastChunkAt);
    this.clearTimer();
    if (framer.hasPartial) {
      const wait = ctx.config.framing.idleMs ?? ctx.config.partialTimeoutMs;
      this.timer = setTimeout(() => {
        this.timer = undefined;
        for (const r of framer.flush()) this.onFrame(r, this.lastChunkAt);
      }, wait);
    }
  }

  private onFrame(r: FrameResult, time: number): void {
    const ctx = this.ctx;
    if (!ctx) return;
    if (!r.ok) {
      this.decodeError(r.error, `${r.bytes} bytes`);
      return;
    }
    const decoded = decodeScan(r.frame, { aim: ctx.config.aim });
    if (!decoded.ok) {
      this.decodeError(decoded.error, decoded.detail);
      return;
    }
    this.onReading(decoded.value, time);
  }

  private onReading(reading: { text: string; aim?: string; symbology: string }, time: number): void {
    const ctx = this.ctx;
    if (!ctx) return;
    const { text, aim, symbology } = reading;
    this.readings++;
    this.lastReadingAt = time;
    ctx.emit('retail.scan.v1', { deviceId: this.id, text, ...(aim ? { aim } : {}), symbology }, time);
  }

  private decodeError(reason: string, detail?: string): void {
    const ctx = this.ctx;
    if (!ctx) return;
    this.decodeErrors++;
    ctx.metrics.decodeErrors.inc({ device: this.id, reason });
    // Frame contents are never logged: a barcode may be a loyalty or payment token.
    ctx.log.warn(
      { reason, detail: reason === 'missing-aim' ? undefined : detail, total: this.decodeErrors },
      'frame discarded',
    );
  }

  private setState(
    state: DeviceState,
    reason: string | undefined,
    path: string | undefined,
    attempt: number,
  ): void {
    const ctx = this.ctx;
    if (!ctx) return;
    const nextPath = path ?? this.path;
    const changed = state !== this.state || nextPath !== this.path;
    this.path = nextPath;
    if (reason) this.lastError = reason;
    if (!changed) return;
    this.state = state;
    this.since = ctx.clock.now();
    const level = state === 'connected' ? 'info' : 'warn';
    ctx.log[level]({ state, path, reason, attempt }, `scanner ${state}`);
    ctx.emit('retail.device.status.v1', {
      deviceId: this.id,
      kind: this.kind,
      state: state as 'connected' | 'disconnected' | 'unavailable',
      ...(path ? { path } : {}),
      ...(reason ? { reason: reason.slice(0, 512) } : {}),
      attempt,
    });
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private createSsiLink(ctx: Ctx): SsiLink {
    return new SsiLink({
      aim: ctx.config.aim,
      maxBytes: ctx.config.maxFrameBytes,
      wakeup: !ctx.config.rtscts,
      commandTimeoutMs: 1000,
      write: (bytes) => this.write(bytes),
      onScan: (reading) => this.onReading(reading, this.lastChunkAt),
      onError: (reason, detail) => this.decodeError(reason, detail),
    });
  }

  private onSsiData(ssi: SsiLink, chunk: Buffer, ctx: Ctx): void {
    ssi.onData(chunk);
    this.clearTimer();
    if (ssi.hasPartial) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        ssi.flush();
      }, ctx.config.partialTimeoutMs);
    }
  }

  /**
   * Sends a host command (`protocol: ssi`) and resolves when the scanner acknowledges it. Never
   * rejects: `{ok: false, error}` says why it failed (`unsupported` with `protocol: raw`).
   */
  hostCommand<N extends ScannerCommandName>(name: N, args?: ScannerCommandArgs[N]): Promise<CommandResult> {
    if (!this.ssi) return Promise.resolve({ ok: false, error: 'unsupported', detail: 'needs protocol: ssi' });
    if (!this.port) return Promise.resolve({ ok: false, error: 'not-connected' });
    return this.ssi.command(name, args);
  }

  /** Device commands offered to central (src/downlink/device-commands.ts): only SSI scanners take any. */
  commands(): string[] {
    return this.ctx?.config.protocol === 'ssi' ? Object.keys(DEVICE_COMMANDS) : [];
  }

  /** Runs a device command from central; rejects with a coded error when the scanner refuses. */
  async command(name: string, args: unknown): Promise<unknown> {
    const host = DEVICE_COMMANDS[name];
    if (!host || !this.commands().includes(name)) {
      throw new GatewayError('GW_ERR_DEVICE_UNSUPPORTED', `${this.id} does not take "${name}"`);
    }
    const result = await this.hostCommand(host, (args ?? {}) as ScannerCommandArgs[typeof host]);
    if (result.ok) return { done: name };
    const message = `${name}: ${result.error}${result.detail ? ` (${result.detail})` : ''}`;
    throw new GatewayError(
      result.error === 'bad-argument' ? 'GW_ERR_COMMAND_INVALID' : 'GW_ERR_DEVICE_COMMAND_FAILED',
      message,
    );
  }

  /** Writes raw bytes to the scanner (host commands); false when it is not connected. */
  write(data: Buffer): boolean {
    if (!this.port) return false;
    this.port.write(data);
    return true;
  }

  async stop(): Promise<void> {
    this.abort.abort();
    this.clearTimer();
    await this.port?.close();
    await this.loop;
    this.state = 'stopped';
  }

  health(): DeviceHealth {
    const iso = (ms: number) => new Date(ms).toISOString();
    return {
      id: this.id,
      kind: this.kind,
      state: this.state,
      ...(this.path ? { path: this.path } : {}),
      since: iso(this.since),
      readings: this.readings,
      decodeErrors: this.decodeErrors,
      reopens: this.reopens,
      ...(this.lastReadingAt ? { lastReadingAt: iso(this.lastReadingAt) } : {}),
      ...(this.lastError ? { lastError: this.lastError } : {}),
    };
  }
}
