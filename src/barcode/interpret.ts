import type { Gs1Element, Gs1Value } from './ai-values.js';
import { isEanUpcSymbology, isGs1ElementStringSymbology, scanDataType } from './aim.js';
import { isHttpUri, parseDigitalLink } from './digital-link.js';
import { GS, gs1Map, parseElementString } from './element-string.js';
import { expandUpcE, normaliseGtin } from './gtin.js';
import {
  decodeVariableMeasure,
  type VariableMeasure,
  type VariableMeasureScheme,
} from './variable-measure.js';

/** Why a scan's content is not what its symbology promises (`reason` in `retail.scan.v1`). */
export const INVALID_REASONS = [
  'check-digit',
  'price-check-digit',
  'length',
  'not-numeric',
  'empty',
  'unknown-ai',
  'truncated',
  'too-long',
  'bad-character',
  'invalid-date',
  'duplicate-ai',
  'bad-encoding',
] as const;
export type InvalidReason = (typeof INVALID_REASONS)[number];

/** What the gateway derives from one scan; every field but `scanDataType` only where it applies. */
export interface ScanSemantics {
  scanDataType: number;
  gtin?: string;
  gs1?: Record<string, Gs1Value>;
  variableMeasure?: VariableMeasure;
  /** Present when the content was checked as GS1 data: a GTIN, an element string or a Digital Link. */
  valid?: boolean;
  reason?: InvalidReason;
  detail?: string;
}

export interface ScanInput {
  text: string;
  aim?: string;
  symbology: string;
}

export interface InterpretOptions {
  schemes: readonly VariableMeasureScheme[];
  /** The capture time: places two-digit years in their century. */
  nowMs: number;
}

type Derived = Omit<ScanSemantics, 'scanDataType'>;

const invalid = (reason: InvalidReason, detail?: string): Derived =>
  detail === undefined ? { valid: false, reason } : { valid: false, reason, detail };

/** GTIN (and variable measure) from the digits of an EAN/UPC scan. */
function fromGtinDigits(digits: string, opts: InterpretOptions, upcE: boolean): Derived {
  const expanded = upcE ? expandUpcE(digits) : null;
  const gtin = normaliseGtin(expanded ?? digits);
  if (!gtin.ok) return invalid(gtin.error, gtin.detail);
  const vm = decodeVariableMeasure(gtin.value.slice(1), gtin.value.startsWith('0') ? opts.schemes : []);
  if (!vm.ok) return { gtin: gtin.value, ...invalid(vm.error, vm.detail) };
  if (!vm.value) return { gtin: gtin.value, valid: true };
  return { gtin: `0${vm.value.itemKey}`, variableMeasure: vm.value, valid: true };
}

/** EAN-13/UPC-A/EAN-8/UPC-E; an add-on after the main code (]E3) is left in `text` only. */
function fromEanUpc(scan: ScanInput, opts: InterpretOptions): Derived {
  let digits = scan.text;
  if (scan.symbology === 'ean-13-addon') {
    const main = { 15: 13, 18: 13, 10: 8, 13: 8 }[digits.length];
    if (main === undefined) return invalid('length', `${digits.length} digits`);
    digits = digits.slice(0, main);
  }
  const upcE = scan.symbology === 'upc-e' || (scan.symbology === 'ean-13' && digits.length === 8);
  return fromGtinDigits(digits, opts, upcE);
}

function fromElements(elements: readonly Gs1Element[]): Derived {
  const gs1 = gs1Map(elements);
  const gtin = gs1['01']?.raw;
  return gtin === undefined ? { gs1, valid: true } : { gtin, gs1, valid: true };
}

function fromElementString(text: string, opts: InterpretOptions): Derived {
  const r = parseElementString(text, opts);
  return r.ok ? fromElements(r.value) : invalid(r.error, r.detail);
}

/**
 * A scan without a symbology (scanner sends no AIM identifier): only content that proves itself
 * is interpreted, a GTIN with a right check digit or a whole valid element string starting with a
 * key. Anything else is left alone rather than flagged, since it may be no GS1 code at all.
 */
function fromUnknown(text: string, opts: InterpretOptions): Derived {
  if (/^[0-9]{8}$|^[0-9]{12,14}$/.test(text)) {
    const gtin = fromGtinDigits(text, opts, false);
    return gtin.valid || gtin.reason === 'price-check-digit' ? gtin : {};
  }
  if (/^0[012][0-9]{14}/.test(text.startsWith(GS) ? text.slice(1) : text)) {
    const r = parseElementString(text, opts);
    return r.ok ? fromElements(r.value) : {};
  }
  return {};
}

function derive(scan: ScanInput, opts: InterpretOptions): Derived {
  const { text, symbology } = scan;
  if (isGs1ElementStringSymbology(symbology)) return fromElementString(text, opts);
  if (isEanUpcSymbology(symbology)) return fromEanUpc(scan, opts);
  if (symbology === 'itf' && text.length === 14) return fromGtinDigits(text, opts, false);
  if (isHttpUri(text)) {
    const r = parseDigitalLink(text, opts);
    if (r.ok) return fromElements(r.value);
    return r.error === 'not-digital-link' ? {} : invalid(r.error, r.detail);
  }
  if (symbology === 'unknown') return fromUnknown(text, opts);
  return {};
}

/**
 * What a scan means: ScanDataType, GTIN-14, GS1 AIs, variable measure, and whether the content is
 * valid for its symbology. Pure and total: any input gives a result, never an exception.
 */
export function interpretScan(scan: ScanInput, opts: InterpretOptions): ScanSemantics {
  return Object.assign(
    { scanDataType: scanDataType(scan.symbology, scan.text, scan.aim) },
    derive(scan, opts),
  );
}
