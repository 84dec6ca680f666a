import { err, ok, type Result } from '../../src/result.js';
import type { ScanReading } from '../serial-scanner/decode.js';
import type { HidScannerConfig } from './config.js';
import { parseReportDescriptor, usagePage } from './descriptor.js';
import { LAYOUTS } from './layouts.js';
import { findPosLayout, PosAssembler } from './pos.js';
import { WedgeDecoder } from './wedge.js';

/** What the driver feeds input reports to: a wedge decoder or a HID POS assembler. */
export interface ReportDecoder {
  readonly hasPartial: boolean;
  push(report: Uint8Array): Result<ScanReading, string>[];
  flush(): Result<ScanReading, string>[];
  reset(): void;
}

const KEYBOARD_PAGE = 0x07;

/**
 * Picks and sets up the decoder for a device from its config and report descriptor. Pure.
 * HID POS needs the descriptor (the field offsets come from it). Keyboard wedge uses it only to
 * learn the keyboard report's id; without one it assumes the plain 8-byte boot report.
 */
export function createReportDecoder(
  config: Pick<HidScannerConfig, 'mode' | 'wedge' | 'aim' | 'maxScanBytes'>,
  descriptor: Uint8Array | undefined,
): Result<ReportDecoder, string> {
  const parsed = descriptor ? parseReportDescriptor(descriptor) : undefined;
  if (config.mode === 'hid-pos') {
    if (!parsed) return err('no-descriptor', 'the report descriptor cannot be read');
    if (!parsed.ok) return err(`descriptor-${parsed.error}`, parsed.detail);
    const layout = findPosLayout(parsed.value);
    if (!layout.ok) return err(layout.error, 'not a HID POS scanner interface (no decoded-data field)');
    return ok(new PosAssembler(layout.value, config.maxScanBytes));
  }
  let reportId: number | undefined;
  if (parsed?.ok) {
    const keyboard = parsed.value.reports.find(
      (r) => r.kind === 'input' && r.fields.some((f) => f.usages.some((u) => usagePage(u) === KEYBOARD_PAGE)),
    );
    if (!keyboard) return err('no-keyboard-report', 'the interface has no keyboard input report');
    if (parsed.value.usesReportIds) reportId = keyboard.id;
  }
  return ok(
    new WedgeDecoder({
      layout: LAYOUTS[config.wedge.layout],
      terminators: config.wedge.terminators,
      aim: config.aim,
      maxBytes: config.maxScanBytes,
      ...(reportId !== undefined ? { reportId } : {}),
    }),
  );
}
