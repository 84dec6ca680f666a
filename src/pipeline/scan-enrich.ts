import type { BarcodeConfig } from '../barcode/config.js';
import { interpretScan, type ScanSemantics } from '../barcode/interpret.js';
import { resolveSchemes, type VariableMeasureScheme } from '../barcode/variable-measure.js';
import type { Clock } from '../clock.js';
import type { Emit } from '../drivers/contract.js';
import type { EventData, EventType } from '../events/catalog.js';
import type { Logger } from '../logger.js';
import { TimedDeduper } from './dedupe.js';

type ScanData = EventData<'retail.scan.v1'>;

/** The service (gateway.provide) under which a module classifies scans: src/identity provides it. */
export const SCAN_CLASSIFIER_SERVICE = 'scan.classifier';

/**
 * Takes each scan after enrichment and duplicate suppression, before its event is built: returns the
 * data to send (a payment token's text is replaced here, so it never reaches the buffer) and the
 * events that follow the scan. Must not throw.
 */
export type ScanClassifier = (
  data: ScanData,
  timeMs: number,
) => { data: ScanData; follow: readonly { type: EventType; data: unknown }[] };

/** The variable-measure schemes a `barcode` config section asks for, in the order they are tried. */
export function schemesFrom(config: Partial<BarcodeConfig> | undefined): VariableMeasureScheme[] {
  return resolveSchemes(config?.variableMeasure ?? [], config?.customSchemes ?? []);
}

/**
 * Adds what the gateway derives from a scan (scanDataType, gtin, gs1, variableMeasure, valid,
 * reason) to its data. Pure and total: whatever the text, the scan comes back, never an exception;
 * should interpretation itself fail, the scan goes on as the driver made it and `onError` hears why.
 */
export function enrichScanData(
  data: ScanData,
  opts: { schemes: readonly VariableMeasureScheme[]; nowMs: number; onError?: (err: unknown) => void },
): ScanData {
  let semantics: ScanSemantics;
  try {
    semantics = interpretScan(data, opts);
  } catch (err) {
    opts.onError?.(err);
    return data;
  }
  // Object.assign, not spread: several times faster on this hot path (every scan).
  return Object.assign({}, data, semantics);
}

export interface ScanPipeline {
  /** The emit a driver gets: scans are enriched (and merged when dedupe is on), other events pass. */
  emit: Emit;
  /** Emits every scan still held by duplicate suppression; later scans pass at once. */
  flush(): void;
  /** Scans held by duplicate suppression right now. */
  readonly pending: number;
}

export interface ScanPipelineOptions {
  barcode: Partial<BarcodeConfig> | undefined;
  /** The device's `dedupe.windowMs`; 0 or absent = off. */
  dedupeWindowMs?: number;
  clock: Clock;
  log?: Logger;
  /** The classifier in force (looked up per scan); none = scans pass as enriched. */
  classifier?: () => ScanClassifier | undefined;
}

/**
 * One device's scan pipeline, between its driver and the event factory:
 * driver emit → enrich (scan-enrich) → duplicate suppression (dedupe) → classify → `next`.
 */
export function createScanPipeline(next: Emit, opts: ScanPipelineOptions): ScanPipeline {
  const schemes = schemesFrom(opts.barcode);
  const onError = (err: unknown) => opts.log?.error({ err }, 'scan interpretation failed; scan sent as read');
  const out = (data: ScanData, timeMs: number) => {
    const classify = opts.classifier?.();
    if (!classify) {
      next('retail.scan.v1', data, timeMs);
      return;
    }
    const r = classify(data, timeMs);
    next('retail.scan.v1', r.data, timeMs);
    for (const f of r.follow) next(f.type, f.data as never, timeMs);
  };
  const windowMs = opts.dedupeWindowMs ?? 0;
  const deduper =
    windowMs > 0 ? new TimedDeduper(windowMs, opts.clock, (m) => out(m.data, m.timeMs)) : undefined;
  const emit: Emit = (type, data, timeMs) => {
    if (type !== 'retail.scan.v1') {
      next(type, data, timeMs);
      return;
    }
    const t = timeMs !== undefined && Number.isFinite(timeMs) ? timeMs : opts.clock.now();
    const enriched = enrichScanData(data as ScanData, { schemes, nowMs: t, onError });
    if (deduper) deduper.push(enriched, t);
    else out(enriched, t);
  };
  return {
    emit,
    flush: () => deduper?.flush(),
    get pending() {
      return deduper?.pending ?? 0;
    },
  };
}

/** The scan pipeline of device `deviceId` as the gateway config describes it (`barcode`, the device's `dedupe`). */
export function scanPipelineFor(
  config: { barcode?: Partial<BarcodeConfig>; devices: readonly { id: string }[] },
  deviceId: string,
  next: Emit,
  deps: { clock: Clock; log?: Logger; classifier?: () => ScanClassifier | undefined },
): ScanPipeline {
  const device = config.devices.find((d) => d.id === deviceId) as
    | { dedupe?: { windowMs?: number } }
    | undefined;
  return createScanPipeline(next, {
    barcode: config.barcode,
    dedupeWindowMs: device?.dedupe?.windowMs,
    clock: deps.clock,
    log: deps.log?.child({ component: 'scan-pipeline', device: deviceId }),
    classifier: deps.classifier,
  });
}
