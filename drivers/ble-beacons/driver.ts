import type { DeviceHealth, DeviceState, Driver, DriverContext } from '../../src/drivers/contract.js';
import { bleAddressKind, isRandomizedBle, normalizeAddress } from '../../src/privacy/address.js';
import { Backoff } from '../../src/uplink/backoff.js';
import { sleep } from '../../src/util/sleep.js';
import { encodeAdvertisement } from './ad.js';
import type { BleBeaconsConfig } from './config.js';
import { parseBeacon } from './frames.js';
import { BLE_SINK_SERVICE, type BleSink } from './reading.js';
import { RecordingWriter, replayTransport } from './recording.js';
import {
  type BleTransport,
  type NobleLike,
  type NoblePeripheral,
  nobleWithBindings,
  type OpenedBindings,
} from './transport.js';

type Ctx = DriverContext<BleBeaconsConfig, BleTransport>;

/** How long `start` waits for the adapter's first state. */
const FIRST_STATE_WAIT_MS = 5000;
/** noble and its GAP layer remember every address they saw; forget them this often. */
const PRUNE_EVERY_MS = 5 * 60_000;

type Internals = Record<string, Record<string, unknown> | undefined>;

/**
 * A BLE adapter scanning for beacons (noble, duplicates allowed). Each advertisement's address is
 * pseudonymized in the discover handler; the beacon frame is parsed and the reading handed to the
 * presence engine (the sink). `retail.device.status.v1` reports the adapter's state.
 */
export class BleBeaconsDriver implements Driver<BleBeaconsConfig, BleTransport> {
  readonly kind = 'ble-beacons';
  private ctx: Ctx | undefined;
  private readonly abort = new AbortController();
  private sink: BleSink | undefined;
  private loop: Promise<void> | undefined;
  private state: DeviceState = 'starting';
  private since = Date.now();
  private path: string | undefined;
  private opened: OpenedBindings | undefined;
  private noble: NobleLike | undefined;
  private recorder: RecordingWriter | undefined;
  private connectedOnce = false;
  private lastPrune = 0;
  private readonly counts = {
    readings: 0,
    decodeErrors: 0,
    reopens: 0,
    unattached: 0,
    randomizedIgnored: 0,
    weak: 0,
    recorded: 0,
  };
  private lastReadingAt: number | undefined;
  private lastError: string | undefined;

  constructor(readonly id: string) {}

  /**
   * Connects the driver to a sink directly (tests); in the gateway the sink comes from the
   * presence module's service. Readings without a sink are counted and dropped.
   */
  attach(sink: BleSink): void {
    this.sink = sink;
  }

  get isAttached(): boolean {
    return this.sink !== undefined;
  }

  async start(ctx: Ctx): Promise<void> {
    this.ctx = ctx;
    this.since = ctx.clock.now();
    ctx.signal.addEventListener('abort', () => this.abort.abort(), { once: true });
    if (ctx.config.record) this.recorder = new RecordingWriter(ctx.config.record);
    this.sink ??= ctx.services?.get<BleSink>(BLE_SINK_SERVICE);
    if (!this.sink) ctx.log.warn('no presence engine attached; advertisements are counted and dropped');
    let firstAttempt: () => void = () => {};
    const attempted = new Promise<void>((resolve) => {
      firstAttempt = resolve;
    });
    this.loop = this.run(ctx, firstAttempt);
    await attempted;
  }

  private transport(ctx: Ctx): BleTransport {
    return ctx.config.replay ? replayTransport(ctx.config.replay, ctx.config.replaySpeed) : ctx.transport;
  }

  private async run(ctx: Ctx, firstAttempt: () => void): Promise<void> {
    const { config } = ctx;
    const signal = this.abort.signal;
    const backoff = Backoff.doubling(config.reopen.minMs, config.reopen.maxMs);
    const path = config.replay ? `replay:${config.replay}` : `hci${config.hciDeviceId ?? 0}`;
    let attempt = 0;
    while (!signal.aborted) {
      try {
        this.opened = await this.transport(ctx).open({
          ...(config.hciDeviceId === undefined ? {} : { hciDeviceId: config.hciDeviceId }),
          extended: config.extended,
        });
        this.noble = await nobleWithBindings(this.opened.bindings);
      } catch (err) {
        this.opened?.close();
        this.opened = undefined;
        this.setState('unavailable', (err as Error).message, path, attempt);
        firstAttempt();
        attempt++;
        await sleep(backoff.next(), signal);
        continue;
      }
      if (this.connectedOnce) {
        this.counts.reopens++;
        ctx.metrics.deviceReconnects.inc({ device: this.id });
      }
      backoff.reset();
      await this.scanUntilStopped(this.noble, path, attempt, firstAttempt);
      break;
    }
  }

  /** Follows the adapter's power state (noble reports it) and scans whenever it is on. */
  private scanUntilStopped(noble: NobleLike, path: string, attempt: number, firstAttempt: () => void) {
    return new Promise<void>((resolve) => {
      const firstStateTimer = setTimeout(() => {
        this.setState('unavailable', 'the adapter reported no state', path, attempt);
        firstAttempt();
      }, FIRST_STATE_WAIT_MS);
      noble.on('warning', (message: string) => this.ctx?.log.warn({ message }, 'noble warning'));
      noble.on('discover', (p: NoblePeripheral) => this.onDiscover(p));
      noble.on('stateChange', (state: string) => {
        clearTimeout(firstStateTimer);
        if (state === 'poweredOn') {
          noble.startScanning([], true, (err?: Error) => {
            if (err) this.setState('unavailable', err.message, path, attempt);
            else {
              this.connectedOnce = true;
              this.setState('connected', undefined, path, attempt);
            }
            firstAttempt();
          });
        } else {
          const next = this.state === 'connected' ? 'disconnected' : 'unavailable';
          this.setState(next, `adapter ${state}`, path, attempt);
          firstAttempt();
        }
      });
      const onAbort = () => {
        clearTimeout(firstStateTimer);
        resolve();
      };
      if (this.abort.signal.aborted) onAbort();
      else this.abort.signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * The discover handler: the only function that sees the raw address. It writes the recording (if
   * configured), pseudonymizes the address and hands on a reading that cannot be reversed.
   */
  private onDiscover(p: NoblePeripheral): void {
    const ctx = this.ctx;
    if (!ctx) return;
    const now = ctx.clock.now();
    this.forget(p.id, now);
    this.counts.readings++;
    this.lastReadingAt = now;
    if (this.recorder) {
      try {
        this.recorder.write(now, {
          address: p.address,
          addressType: p.addressType === 'random' ? 'random' : 'public',
          rssi: p.rssi,
          adv: encodeAdvertisement(p.advertisement),
          ...(p.connectable ? { connectable: true } : {}),
        });
        this.counts.recorded++;
      } catch (err) {
        this.lastError = `recording: ${(err as Error).message}`;
      }
    }
    const sink = this.sink;
    if (!sink) {
      this.counts.unattached++;
      return;
    }
    const rssi = p.rssi + ctx.config.rssiOffsetDb;
    if (rssi < ctx.config.minRssi) {
      this.counts.weak++;
      return;
    }
    const randomized = isRandomizedBle(p.address, p.addressType);
    if (randomized && sink.ignoreRandomized) {
      this.counts.randomizedIgnored++;
      return;
    }
    const addressKind = bleAddressKind(p.address, p.addressType);
    const address = sink.pseudonymize('ble', normalizeAddress(p.address) || p.id, now);
    const parsed = parseBeacon(p.advertisement);
    if (!parsed.ok && parsed.error !== 'no-beacon') {
      this.counts.decodeErrors++;
      ctx.metrics.decodeErrors.inc({ device: this.id, reason: parsed.error });
    }
    sink.reading({
      receiver: this.id,
      zone: ctx.config.zone,
      time: now,
      rssi,
      address,
      addressKind,
      randomized,
      ...(parsed.ok ? { frame: parsed.value } : { frameError: parsed.error }),
      ...(ctx.config.pathLossExponent === undefined ? {} : { pathLossExponent: ctx.config.pathLossExponent }),
      unmatched: ctx.config.unmatched,
    });
  }

  /**
   * noble keeps a peripheral object per address forever, and its GAP layer a record per address;
   * with phones rotating their addresses that grows without bound. A scanner needs neither.
   */
  private forget(peripheralId: string, now: number): void {
    const n = this.noble as unknown as Internals | undefined;
    if (n) {
      for (const key of [
        '_peripherals',
        '_services',
        '_characteristics',
        '_descriptors',
        '_discoveredPeripheralUUids',
      ])
        delete n[key]?.[peripheralId];
    }
    if (now - this.lastPrune < PRUNE_EVERY_MS) return;
    this.lastPrune = now;
    const b = this.opened?.bindings as unknown as Record<
      string,
      Internals | Record<string, unknown> | undefined
    >;
    const gap = (b?._gap ?? b?.gap) as Internals | undefined;
    if (gap?._discoveries) gap._discoveries = {};
    for (const key of ['_addresses', '_addresseTypes', '_connectable']) if (b?.[key]) b[key] = {};
  }

  private setState(state: DeviceState, reason: string | undefined, path: string, attempt: number): void {
    const ctx = this.ctx;
    if (!ctx) return;
    if (reason) this.lastError = reason;
    const changed = state !== this.state || path !== this.path;
    this.path = path;
    if (!changed) return;
    this.state = state;
    this.since = ctx.clock.now();
    ctx.log[state === 'connected' ? 'info' : 'warn'](
      { state, path, reason, attempt },
      `BLE adapter ${state}`,
    );
    ctx.emit('retail.device.status.v1', {
      deviceId: this.id,
      kind: this.kind,
      state: state as 'connected' | 'disconnected' | 'unavailable',
      path,
      ...(reason ? { reason: reason.slice(0, 512) } : {}),
      attempt,
    });
  }

  async stop(): Promise<void> {
    this.abort.abort();
    try {
      if (this.noble && this.state === 'connected') this.noble.stopScanning();
    } catch {
      // the adapter may be gone already
    }
    this.noble?.removeAllListeners();
    this.opened?.close();
    await this.loop;
    this.recorder?.close();
    this.state = 'stopped';
  }

  health(): DeviceHealth & Record<string, unknown> {
    const iso = (ms: number) => new Date(ms).toISOString();
    const { readings, decodeErrors, reopens, unattached, randomizedIgnored, weak, recorded } = this.counts;
    return {
      id: this.id,
      kind: this.kind,
      state: this.state,
      ...(this.path ? { path: this.path } : {}),
      since: iso(this.since),
      readings,
      decodeErrors,
      reopens,
      ...(this.lastReadingAt ? { lastReadingAt: iso(this.lastReadingAt) } : {}),
      ...(this.lastError ? { lastError: this.lastError } : {}),
      ignored: { weak, randomized: randomizedIgnored, unattached },
      ...(this.recorder ? { recorded } : {}),
    };
  }
}
