import type { DeviceHealth, DeviceState, Driver, DriverContext } from '../../src/drivers/contract.js';
import type { Result } from '../../src/result.js';
import { Backoff } from '../../src/uplink/backoff.js';
import { sleep } from '../../src/util/sleep.js';
import type { ScanReading } from '../serial-scanner/decode.js';
import type { HidMatch, HidScannerConfig } from './config.js';
import { createReportDecoder, type ReportDecoder } from './decoder.js';
import type { HidDeviceInfo, HidDeviceLike, HidTransport } from './transport.js';

type Ctx = DriverContext<HidScannerConfig, HidTransport>;

/** Picks the HID interface a `match` names; `undefined` when none does. Pure. */
export function matchHidDevice(
  devices: readonly HidDeviceInfo[],
  match: HidMatch,
): HidDeviceInfo | undefined {
  const hex = (v: string | undefined) => (v === undefined ? undefined : Number.parseInt(v, 16));
  const want = {
    vendorId: hex(match.vendorId),
    productId: hex(match.productId),
    usagePage: hex(match.usagePage),
  };
  return devices
    .filter((d) => want.vendorId === undefined || d.vendorId === want.vendorId)
    .filter((d) => want.productId === undefined || d.productId === want.productId)
    .filter((d) => want.usagePage === undefined || d.usagePage === want.usagePage)
    .filter((d) => match.serialNumber === undefined || d.serialNumber === match.serialNumber)
    .sort((a, b) => a.path.localeCompare(b.path))[0];
}

/** Errors that are not a failed barcode: reports of another kind (trigger, status) on the interface. */
const NOT_A_SCAN = new Set(['other-report']);

/**
 * A USB HID barcode scanner, in keyboard-wedge or HID POS mode. Finds the interface by path or
 * USB identity, reads input reports, decodes them and emits `retail.scan.v1`; reopens by itself
 * after an unplug, with a `retail.device.status.v1` event at every change.
 */
export class HidScannerDriver implements Driver<HidScannerConfig, HidTransport> {
  readonly kind = 'hid-scanner';
  private ctx: Ctx | undefined;
  private readonly abort = new AbortController();
  private device: HidDeviceLike | undefined;
  private decoder: ReportDecoder | undefined;
  private timer: NodeJS.Timeout | undefined;
  private loop: Promise<void> | undefined;
  private state: DeviceState = 'starting';
  private since = Date.now();
  private path: string | undefined;
  private lastReportAt = 0;
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
    let firstAttempt: () => void = () => {};
    const attempted = new Promise<void>((resolve) => {
      firstAttempt = resolve;
    });
    this.loop = this.run(ctx, firstAttempt);
    await attempted;
  }

  private async run(ctx: Ctx, firstAttempt: () => void): Promise<void> {
    const { config } = ctx;
    const signal = this.abort.signal;
    const backoff = Backoff.doubling(config.reopen.minMs, config.reopen.maxMs);
    let attempt = 0;
    while (!signal.aborted) {
      let opened: { device: HidDeviceLike; decoder: ReportDecoder };
      let path: string | undefined;
      try {
        path = await this.resolvePath(ctx);
        opened = await this.open(ctx, path);
      } catch (err) {
        this.setState('unavailable', (err as Error).message, path, attempt);
        firstAttempt();
        attempt++;
        await sleep(backoff.next(), signal);
        continue;
      }
      const { device } = opened;
      if (signal.aborted) {
        await device.close();
        break;
      }
      backoff.reset();
      if (this.connectedOnce) {
        this.reopens++;
        ctx.metrics.deviceReconnects.inc({ device: this.id });
      }
      this.device = device;
      this.decoder = opened.decoder;
      this.connectedOnce = true;
      this.setState('connected', undefined, path, attempt);
      attempt = 0;
      firstAttempt();
      const reason = await this.readUntilClosed(device);
      this.device = undefined;
      this.clearTimer();
      this.decoder = undefined;
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
    const found = matchHidDevice(await ctx.transport.list(), match);
    if (!found) throw new Error(`no HID device matches ${JSON.stringify(match)}`);
    return found.path;
  }

  /** Opens the interface and sets up its decoder; a wrong interface is closed again and reported. */
  private async open(ctx: Ctx, path: string): Promise<{ device: HidDeviceLike; decoder: ReportDecoder }> {
    const device = await ctx.transport.open(path);
    let descriptor: Buffer | undefined;
    try {
      descriptor = await device.getReportDescriptor();
    } catch {
      descriptor = undefined;
    }
    const decoder = createReportDecoder(ctx.config, descriptor);
    if (!decoder.ok) {
      await device.close();
      throw new Error(`${decoder.error}: ${decoder.detail ?? ''}`.trim());
    }
    return { device, decoder: decoder.value };
  }

  private readUntilClosed(device: HidDeviceLike): Promise<string> {
    return new Promise<string>((resolve) => {
      let done = false;
      const finish = (reason: string) => {
        if (done) return;
        done = true;
        this.abort.signal.removeEventListener('abort', onAbort);
        resolve(reason);
      };
      const onAbort = () => {
        void device.close().then(() => finish('stopped'));
      };
      device.on('data', (report) => this.onReport(report));
      device.on('error', (err) => {
        this.lastError = err.message;
        void device.close().then(() => finish(err.message));
      });
      this.abort.signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  private onReport(report: Buffer): void {
    const decoder = this.decoder;
    const ctx = this.ctx;
    if (!decoder || !ctx) return;
    this.lastReportAt = ctx.clock.now();
    for (const r of decoder.push(report)) this.onResult(r, this.lastReportAt);
    this.clearTimer();
    if (decoder.hasPartial) {
      const wait =
        ctx.config.mode === 'keyboard-wedge' ? ctx.config.wedge.idleMs : ctx.config.partialTimeoutMs;
      this.timer = setTimeout(() => {
        this.timer = undefined;
        for (const r of decoder.flush()) this.onResult(r, this.lastReportAt);
      }, wait);
    }
  }

  private onResult(r: Result<ScanReading, string>, time: number): void {
    const ctx = this.ctx;
    if (!ctx) return;
    if (!r.ok) {
      if (NOT_A_SCAN.has(r.error)) ctx.log.debug({ reason: r.error, detail: r.detail }, 'report ignored');
      else this.decodeError(r.error, r.detail);
      return;
    }
    const { text, aim, symbology } = r.value;
    this.readings++;
    this.lastReadingAt = time;
    ctx.emit('retail.scan.v1', { deviceId: this.id, text, ...(aim ? { aim } : {}), symbology }, time);
  }

  private decodeError(reason: string, detail?: string): void {
    const ctx = this.ctx;
    if (!ctx) return;
    this.decodeErrors++;
    ctx.metrics.decodeErrors.inc({ device: this.id, reason });
    // Barcode contents are never logged: details name sizes, usages and report ids only.
    ctx.log.warn({ reason, detail, total: this.decodeErrors }, 'scan discarded');
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

  /** Sends an output report (report id first) to a connected scanner; false when it is not connected. */
  async write(report: Buffer): Promise<boolean> {
    if (!this.device) return false;
    await this.device.write(report);
    return true;
  }

  async stop(): Promise<void> {
    this.abort.abort();
    this.clearTimer();
    await this.device?.close();
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
