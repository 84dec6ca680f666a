import { err, ok, type Result } from '../../src/result.js';

/**
 * A small HID report-descriptor parser (HID 1.11 §6.2.2): short and long items; the global items
 * usage page, logical min/max, report size/count/id, push/pop; the local items usage and usage
 * min/max; the main items input, output, feature and collection. Pure: bytes in, the reports with
 * the bit position of every field out, or a typed error.
 */

export type ReportKind = 'input' | 'output' | 'feature';

export interface HidField {
  kind: ReportKind;
  /** 0 when the device uses no report ids. */
  reportId: number;
  /** Bit offset from the start of the report data (after the report-id byte, if any). */
  bitOffset: number;
  /** Report size: bits per element. */
  size: number;
  /** Report count: number of elements. */
  count: number;
  /** Usage of each element (usage page << 16 | usage id); empty for padding. For arrays: the possible usages. */
  usages: number[];
  logicalMin: number;
  logicalMax: number;
  /** Main-item data bits: bit 0 constant, bit 1 variable (else array), bit 8 buffered bytes. */
  flags: number;
  /** Usages of the enclosing collections, outermost first. */
  collections: number[];
}

export interface HidReport {
  kind: ReportKind;
  id: number;
  /** Length of the report data in bits, without the report-id byte. */
  bits: number;
  fields: HidField[];
}

export interface ReportDescriptor {
  usesReportIds: boolean;
  reports: HidReport[];
  /** Usages of the top-level (application) collections. */
  applications: number[];
}

export type DescriptorError =
  | 'empty'
  | 'truncated'
  | 'unbalanced-collection'
  | 'bad-pop'
  | 'bad-report-id'
  | 'mixed-report-ids'
  | 'too-large';

export const usage = (page: number, id: number) => ((page & 0xffff) * 0x10000 + (id & 0xffff)) >>> 0;
export const usagePage = (u: number) => Math.floor(u / 0x10000);
export const isConstant = (f: HidField) => (f.flags & 1) !== 0;
export const isVariable = (f: HidField) => (f.flags & 2) !== 0;

/** Cap on one report's size and on one field's element count: far above any real device. */
const MAX_REPORT_BITS = 8 * 65536;
const MAX_ITEMS = 65536;
const MAX_USAGES = 1 << 20;

interface Globals {
  usagePage: number;
  logicalMin: number;
  logicalMax: number;
  size: number;
  count: number;
  reportId: number;
}

interface Locals {
  usages: number[];
  min: number | undefined;
  max: number | undefined;
}

const MAIN_KIND: Record<number, ReportKind> = { 8: 'input', 9: 'output', 11: 'feature' };

function unsigned(bytes: Uint8Array, at: number, size: number): number {
  let v = 0;
  for (let i = size - 1; i >= 0; i--) v = v * 256 + (bytes[at + i] as number);
  return v;
}

function signed(value: number, size: number): number {
  if (size === 0) return 0;
  const bits = size * 8;
  const half = 2 ** (bits - 1);
  return value >= half ? value - 2 ** bits : value;
}

class Parser {
  private g: Globals = { usagePage: 0, logicalMin: 0, logicalMax: 0, size: 0, count: 0, reportId: 0 };
  private stack: Globals[] = [];
  private l: Locals = { usages: [], min: undefined, max: undefined };
  private collections: number[] = [];
  private readonly reports = new Map<string, HidReport>();
  private readonly applications: number[] = [];
  private sawId = false;
  private sawMainWithoutId = false;
  private items = 0;
  private usageTotal = 0;

  run(bytes: Uint8Array): Result<ReportDescriptor, DescriptorError> {
    if (bytes.length === 0) return err('empty');
    let at = 0;
    while (at < bytes.length) {
      const prefix = bytes[at] as number;
      if (++this.items > MAX_ITEMS) return err('too-large', `more than ${MAX_ITEMS} items`);
      if (prefix === 0xfe) {
        // Long item: 0xFE, data size, tag, data. No long items are defined; skip it.
        if (at + 2 >= bytes.length) return err('truncated', `long item at ${at}`);
        const size = bytes[at + 1] as number;
        if (at + 3 + size > bytes.length) return err('truncated', `long item at ${at}`);
        at += 3 + size;
        continue;
      }
      const size = [0, 1, 2, 4][prefix & 3] as number;
      if (at + 1 + size > bytes.length) return err('truncated', `item 0x${prefix.toString(16)} at ${at}`);
      const value = unsigned(bytes, at + 1, size);
      const type = (prefix >> 2) & 3;
      const tag = prefix >> 4;
      const problem =
        type === 0
          ? this.main(tag, value)
          : type === 1
            ? this.global(tag, value, size)
            : this.local(tag, value, size);
      if (problem) return err(problem, `at byte ${at}`);
      at += 1 + size;
    }
    if (this.collections.length > 0) return err('unbalanced-collection', 'collection not closed');
    if (this.sawId && this.sawMainWithoutId) return err('mixed-report-ids');
    const reports = [...this.reports.values()].sort((a, b) => a.id - b.id);
    return ok({ usesReportIds: this.sawId, reports, applications: this.applications });
  }

  private global(tag: number, value: number, size: number): DescriptorError | undefined {
    const g = this.g;
    switch (tag) {
      case 0x0:
        g.usagePage = value;
        break;
      case 0x1:
        g.logicalMin = signed(value, size);
        break;
      case 0x2:
        // A maximum below the minimum was meant unsigned (e.g. 25 FF with minimum 0).
        g.logicalMax = signed(value, size) < g.logicalMin ? value : signed(value, size);
        break;
      case 0x7:
        g.size = value;
        break;
      case 0x8:
        if (value === 0 || value > 255) return 'bad-report-id';
        g.reportId = value;
        this.sawId = true;
        break;
      case 0x9:
        g.count = value;
        break;
      case 0xa:
        this.stack.push({ ...g });
        break;
      case 0xb: {
        const top = this.stack.pop();
        if (!top) return 'bad-pop';
        this.g = top;
        break;
      }
      // Physical min/max, unit exponent and unit do not move any bits.
    }
    return undefined;
  }

  private local(tag: number, value: number, size: number): DescriptorError | undefined {
    // A 4-byte usage carries its own page; shorter ones take the current page.
    const full = size === 4 ? value : usage(this.g.usagePage, value);
    if (tag === 0x0) {
      if (this.l.usages.length >= MAX_ITEMS) return 'too-large';
      this.l.usages.push(full);
    } else if (tag === 0x1) this.l.min = full;
    else if (tag === 0x2) this.l.max = full;
    return undefined;
  }

  private main(tag: number, value: number): DescriptorError | undefined {
    const kind = MAIN_KIND[tag];
    if (kind) return this.field(kind, value);
    if (tag === 0xa) {
      const u = this.l.usages[0] ?? this.l.min ?? 0;
      if (this.collections.length === 0 && value === 1) this.applications.push(u);
      this.collections.push(u);
    } else if (tag === 0xc) {
      if (this.collections.length === 0) return 'unbalanced-collection';
      this.collections.pop();
    }
    this.l = { usages: [], min: undefined, max: undefined };
    return undefined;
  }

  private field(kind: ReportKind, flags: number): DescriptorError | undefined {
    const g = this.g;
    const key = `${kind}:${g.reportId}`;
    let report = this.reports.get(key);
    if (!report) {
      report = { kind, id: g.reportId, bits: 0, fields: [] };
      this.reports.set(key, report);
    }
    if (!this.sawId) this.sawMainWithoutId = true;
    const bits = g.size * g.count;
    if (g.count > MAX_ITEMS || report.bits + bits > MAX_REPORT_BITS) return 'too-large';
    const variable = (flags & 2) !== 0;
    const constant = (flags & 1) !== 0;
    const usages = constant ? [] : this.elementUsages(variable, g.count);
    this.usageTotal += usages.length;
    if (this.usageTotal > MAX_USAGES) return 'too-large';
    report.fields.push({
      kind,
      reportId: g.reportId,
      bitOffset: report.bits,
      size: g.size,
      count: g.count,
      usages,
      logicalMin: g.logicalMin,
      logicalMax: g.logicalMax,
      flags,
      collections: [...this.collections],
    });
    report.bits += bits;
    this.l = { usages: [], min: undefined, max: undefined };
    return undefined;
  }

  /** Variable fields: one usage per element (the last one repeats). Arrays: every usage they may report. */
  private elementUsages(variable: boolean, count: number): number[] {
    const { usages, min, max } = this.l;
    const list = [...usages];
    if (min !== undefined && max !== undefined && max >= min) {
      const span = Math.min(max - min + 1, variable ? count : MAX_ITEMS);
      for (let i = 0; i < span; i++) list.push(min + i);
    }
    if (!variable || list.length === 0) return list;
    const out: number[] = [];
    for (let i = 0; i < count; i++) out.push(list[Math.min(i, list.length - 1)] as number);
    return out;
  }
}

/** Parses a HID report descriptor. Pure. */
export function parseReportDescriptor(bytes: Uint8Array): Result<ReportDescriptor, DescriptorError> {
  return new Parser().run(bytes);
}

/** Reads `size` bits (≤ 32) at `bitOffset` of `data`, little-endian as HID lays them out. */
export function readBits(data: Uint8Array, bitOffset: number, size: number): number {
  let v = 0;
  for (let i = 0; i < size; i++) {
    const bit = bitOffset + i;
    const byte = data[bit >> 3] ?? 0;
    if ((byte >> (bit & 7)) & 1) v += 2 ** i;
  }
  return v;
}
