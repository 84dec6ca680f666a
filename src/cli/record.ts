import type { HidTransport } from '../../drivers/hid-scanner/transport.js';
import type { SerialTransport } from '../../drivers/serial-scanner/transport.js';
import { systemClock } from '../clock.js';
import type { Config, DeviceConfig } from '../config/schema.js';
import type { Emit } from '../drivers/contract.js';
import { createDriver, type Transports } from '../drivers/registry.js';
import { EXIT } from '../errors.js';
import { createLogger, type Logger } from '../logger.js';
import { Metrics } from '../metrics.js';
import { tapHidTransport, tapSerialTransport } from '../replay/index.js';
import { Recorder } from '../replay/recorder.js';
import { sleep } from '../util/sleep.js';
import { fail } from './output.js';
import { readConfigOrReport } from './run.js';

/** How each device kind's transport is tapped for recording. */
const TAPS: Partial<Record<DeviceConfig['kind'], (transport: unknown, recorder: Recorder) => unknown>> = {
  'serial-scanner': (t, r) => tapSerialTransport(t as SerialTransport, r),
  'hid-scanner': (t, r) => tapHidTransport(t as HidTransport, r),
};

export interface RecordOptions {
  config: Config;
  deviceId: string;
  out: string;
  /** Stop after this long; otherwise when `signal` aborts. */
  durationMs?: number;
  signal?: AbortSignal;
  /** Transports instead of the real hardware (tests use simulators). */
  transports?: Transports;
  log: Logger;
}

export interface RecordSummary {
  chunks: number;
  bytes: number;
  scans: number;
}

/**
 * Records one device: runs its real driver on a tapped transport, so the device is opened,
 * acknowledged (SSI) and decoded exactly as the gateway would, while every chunk or report read is
 * written to `out`. Decoded scans are only counted: nothing is buffered or published.
 */
export async function recordDevice(o: RecordOptions): Promise<RecordSummary> {
  const device = o.config.devices.find((d) => d.id === o.deviceId);
  if (!device) throw new Error(`no device "${o.deviceId}" in the config`);
  const replay = (device as { replay?: string }).replay;
  if (replay) throw new Error(`device "${o.deviceId}" replays ${replay}; there is nothing to record`);
  const tap = TAPS[device.kind];
  if (!tap) throw new Error(`recording is not supported for kind ${device.kind}`);
  const created = await createDriver(device, o.transports ?? {});
  const recorder = new Recorder(o.out);
  const abort = new AbortController();
  const onAbort = () => abort.abort();
  o.signal?.addEventListener('abort', onAbort, { once: true });
  let scans = 0;
  const emit: Emit = (type) => {
    if (type === 'retail.scan.v1') scans++;
  };
  try {
    await created.driver.start({
      config: device,
      log: o.log.child({ component: 'driver', device: device.id, kind: device.kind }),
      clock: systemClock,
      metrics: new Metrics(),
      signal: abort.signal,
      emit,
      transport: tap(created.transport, recorder),
    });
    if (o.durationMs !== undefined) await sleep(o.durationMs, abort.signal);
    else
      await new Promise<void>((resolve) =>
        abort.signal.addEventListener('abort', () => resolve(), { once: true }),
      );
  } finally {
    abort.abort();
    o.signal?.removeEventListener('abort', onAbort);
    await created.driver.stop();
    recorder.close();
  }
  return { chunks: recorder.chunks, bytes: recorder.bytes, scans };
}

/** `store-gateway record`: captures a device's raw data to a .jsonl file until the duration ends or Ctrl-C. */
export async function recordCommand(o: {
  config: string;
  device: string;
  out: string;
  duration?: number;
}): Promise<number> {
  const config = readConfigOrReport(o.config);
  if (!config) return EXIT.CONFIG;
  const log = createLogger({ level: config.log.level, pretty: config.log.pretty });
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const summary = await recordDevice({
      config,
      deviceId: o.device,
      out: o.out,
      ...(o.duration ? { durationMs: o.duration * 1000 } : {}),
      signal: abort.signal,
      log,
    });
    process.stderr.write(
      `store-gateway: recorded ${summary.chunks} chunks (${summary.bytes} bytes, ${summary.scans} scans decoded) to ${o.out}\n`,
    );
    return EXIT.OK;
  } catch (err) {
    fail((err as Error).message);
    return EXIT.FAILURE;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    log.flush();
  }
}
