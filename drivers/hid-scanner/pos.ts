import { describeAim } from '../../src/barcode/aim.js';
import { err, ok, type Result } from '../../src/result.js';
import { decodeScan, type ScanReading } from '../serial-scanner/decode.js';
import { describeCodeId } from './code-ids.js';
import {
  type HidField,
  isConstant,
  type ReportDescriptor,
  readBits,
  usage,
  usagePage,
} from './descriptor.js';

/** HID POS usages (USB-IF "HID Point of Sale Usage Tables" 1.02, usage page 0x8C). */
export const POS_PAGE = 0x8c;
export const POS_USAGE = {
  barCodeScanner: usage(POS_PAGE, 0x02),
  scannedDataReport: usage(POS_PAGE, 0x12),
  symbologyId1: usage(POS_PAGE, 0xfb),
  symbologyId2: usage(POS_PAGE, 0xfc),
  symbologyId3: usage(POS_PAGE, 0xfd),
  decodedData: usage(POS_PAGE, 0xfe),
  decodeDataContinued: usage(POS_PAGE, 0xff),
} as const;
/** Generic Desktop "Byte Count": how many bytes of a buffer are valid. */
export const BYTE_COUNT = usage(0x01, 0x3b);

/** Where the parts of a scanned-data report sit, in bits from the start of the report data. */
export interface PosLayout {
  reportId: number;
  usesReportIds: boolean;
  /** Bytes of report data (without the id byte). */
  bytes: number;
  data: { bitOffset: number; length: number };
  length?: { bitOffset: number; size: number };
  /** The three symbology-identifier bytes (an AIM identifier such as "]E0"), when present. */
  aim?: [number, number, number];
  continued?: number;
  /** A vendor byte after the data: Honeywell's code id. */
  codeId?: number;
}

export type PosLayoutError = 'no-decoded-data' | 'unaligned-data';

interface Element {
  usage: number;
  bitOffset: number;
  size: number;
  field: HidField;
}

function elements(fields: HidField[]): Element[] {
  const out: Element[] = [];
  for (const f of fields) {
    if (isConstant(f) || (f.flags & 2) === 0) continue;
    for (let i = 0; i < f.count; i++) {
      out.push({ usage: f.usages[i] as number, bitOffset: f.bitOffset + i * f.size, size: f.size, field: f });
    }
  }
  return out;
}

/**
 * Finds the decoded-data, length, symbology and continuation fields of a HID POS scanner from its
 * report descriptor, so no offset is hard-coded. Pure.
 */
export function findPosLayout(desc: ReportDescriptor): Result<PosLayout, PosLayoutError> {
  let found: { report: (typeof desc.reports)[number]; els: Element[]; data: Element[] } | undefined;
  for (const report of desc.reports) {
    if (report.kind !== 'input') continue;
    const els = elements(report.fields);
    const data = els.filter((e) => e.usage === POS_USAGE.decodedData);
    if (data.length > 0) {
      found = { report, els, data };
      break;
    }
  }
  if (!found) return err('no-decoded-data');
  const { report, els, data } = found;
  const first = data[0] as Element;
  const contiguous = data.every((e, i) => e.size === 8 && e.bitOffset === first.bitOffset + i * 8);
  if (first.bitOffset % 8 !== 0 || !contiguous) return err('unaligned-data');
  const dataEnd = first.bitOffset + data.length * 8;
  const byte = (u: number) => els.find((e) => e.usage === u && e.size === 8 && e.bitOffset % 8 === 0);
  const [s1, s2, s3] = [
    byte(POS_USAGE.symbologyId1),
    byte(POS_USAGE.symbologyId2),
    byte(POS_USAGE.symbologyId3),
  ];
  const len = els.find((e) => e.usage === BYTE_COUNT && e.size <= 16);
  const cont = els.find((e) => e.usage === POS_USAGE.decodeDataContinued);
  const vendor = els.find(
    (e) => usagePage(e.usage) >= 0xff00 && e.size === 8 && e.bitOffset >= dataEnd && e.bitOffset % 8 === 0,
  );
  return ok({
    reportId: report.id,
    usesReportIds: desc.usesReportIds,
    bytes: Math.ceil(report.bits / 8),
    data: { bitOffset: first.bitOffset, length: data.length },
    ...(len ? { length: { bitOffset: len.bitOffset, size: len.size } } : {}),
    ...(s1 && s2 && s3
      ? { aim: [s1.bitOffset, s2.bitOffset, s3.bitOffset] as [number, number, number] }
      : {}),
    ...(cont ? { continued: cont.bitOffset } : {}),
    ...(vendor ? { codeId: vendor.bitOffset } : {}),
  });
}

export type PosError = 'other-report' | 'short-report' | 'bad-length' | 'too-long' | 'incomplete' | 'empty';
export type PosResult = Result<ScanReading, PosError>;

const AIM_ID = /^\][A-Za-z0-9][0-9A-Za-z]$/;

/**
 * Reassembles HID POS scanned-data reports into barcodes: a report with "decode data continued"
 * set is followed by more of the same barcode. Pure; the driver calls `flush()` when a continued
 * barcode waits too long for its next report.
 */
export class PosAssembler {
  private parts: Buffer[] = [];
  private size = 0;
  private aim: string | undefined;
  private codeId = 0;
  /** After a too-long barcode: drop reports up to its last one. */
  private skipping = false;

  constructor(
    private readonly layout: PosLayout,
    private readonly maxBytes: number,
  ) {}

  get hasPartial(): boolean {
    return this.size > 0 || this.parts.length > 0 || this.skipping;
  }

  /** One input report as read from the device: report id first when the device uses report ids. */
  push(report: Uint8Array): PosResult[] {
    const { layout } = this;
    let body = report;
    if (layout.usesReportIds) {
      if (report[0] !== layout.reportId) return [err('other-report', `report id ${report[0] ?? 'none'}`)];
      body = report.subarray(1);
    }
    if (body.length < Math.ceil((layout.data.bitOffset + 8 * layout.data.length) / 8))
      return [err('short-report', `${report.length} bytes`)];
    const start = layout.data.bitOffset / 8;
    let n: number;
    if (layout.length) {
      n = readBits(body, layout.length.bitOffset, layout.length.size);
      if (n > layout.data.length) return this.fail('bad-length', `${n} > ${layout.data.length}`);
    } else {
      const zero = body.subarray(start, start + layout.data.length).indexOf(0);
      n = zero < 0 ? layout.data.length : zero;
    }
    const more = layout.continued !== undefined && readBits(body, layout.continued, 1) === 1;
    if (this.parts.length === 0 && !this.skipping) this.header(body);
    return this.append(Buffer.from(body.subarray(start, start + n)), more);
  }

  /** The next report did not come: a continued barcode is incomplete. */
  flush(): PosResult[] {
    const had = this.hasPartial && !this.skipping;
    const bytes = this.size;
    this.reset();
    return had ? [err('incomplete', `${bytes} bytes`)] : [];
  }

  reset(): void {
    this.parts = [];
    this.size = 0;
    this.aim = undefined;
    this.codeId = 0;
    this.skipping = false;
  }

  private header(body: Uint8Array): void {
    const { aim, codeId } = this.layout;
    if (aim) {
      const id = String.fromCharCode(...aim.map((o) => readBits(body, o, 8)));
      this.aim = AIM_ID.test(id) ? id : undefined;
    }
    this.codeId = codeId === undefined ? 0 : readBits(body, codeId, 8);
  }

  private append(segment: Buffer, more: boolean): PosResult[] {
    if (this.skipping) {
      if (!more) this.reset();
      return [];
    }
    this.parts.push(segment);
    this.size += segment.length;
    if (this.size > this.maxBytes) {
      const bytes = this.size;
      this.reset();
      this.skipping = more;
      return [err('too-long', `${bytes} bytes`)];
    }
    if (more) return [];
    return [this.complete()];
  }

  private complete(): PosResult {
    const data = Buffer.concat(this.parts);
    const aim = this.aim;
    const codeId = this.codeId;
    this.reset();
    const decoded = decodeScan(data, { aim: false });
    if (!decoded.ok) return err('empty');
    const symbology = aim ? describeAim(aim).symbology : (describeCodeId(codeId) ?? 'unknown');
    return { ok: true, value: { text: decoded.value.text, ...(aim ? { aim } : {}), symbology } };
  }

  private fail(error: PosError, detail: string): PosResult[] {
    this.reset();
    return [err(error, detail)];
  }
}
