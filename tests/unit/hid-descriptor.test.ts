import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type DescriptorError,
  parseReportDescriptor,
  readBits,
  usage,
} from '../../drivers/hid-scanner/descriptor.js';
import { findPosLayout, POS_USAGE } from '../../drivers/hid-scanner/pos.js';
import {
  BOOT_KEYBOARD_DESCRIPTOR,
  HONEYWELL_POS_DESCRIPTOR,
  KEYBOARD_WITH_ID_DESCRIPTOR,
  NEWLAND_POS_DESCRIPTOR,
} from '../../simulators/hid-scanner.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function parsed(bytes: Uint8Array) {
  const r = parseReportDescriptor(bytes);
  if (!r.ok) throw new Error(`${r.error} ${r.detail}`);
  return r.value;
}

describe('parseReportDescriptor: the HID 1.11 boot keyboard', () => {
  const desc = parsed(BOOT_KEYBOARD_DESCRIPTOR);

  it('has one 8-byte input report and one 1-byte output report, without report ids', () => {
    expect(desc.usesReportIds).toBe(false);
    expect(desc.applications).toEqual([usage(0x01, 0x06)]);
    expect(desc.reports.map((r) => [r.kind, r.id, r.bits])).toEqual([
      ['input', 0, 64],
      ['output', 0, 8],
    ]);
  });

  it('places modifiers, the reserved byte and the 6-key array', () => {
    const [mods, reserved, keys] = desc.reports[0]?.fields ?? [];
    expect(mods).toMatchObject({ bitOffset: 0, size: 1, count: 8, logicalMin: 0, logicalMax: 1 });
    expect(mods?.usages).toEqual([0xe0, 0xe1, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7].map((u) => usage(7, u)));
    expect(reserved).toMatchObject({ bitOffset: 8, size: 8, count: 1, usages: [] });
    expect(keys).toMatchObject({ bitOffset: 16, size: 8, count: 6, logicalMax: 0x65 });
    expect((keys?.flags ?? 2) & 2).toBe(0); // an array
    expect(keys?.usages).toHaveLength(0x66);
  });

  it('places the LED output bits and their padding', () => {
    const [leds, pad] = desc.reports[1]?.fields ?? [];
    expect(leds).toMatchObject({ bitOffset: 0, size: 1, count: 5 });
    expect(leds?.usages).toEqual([1, 2, 3, 4, 5].map((u) => usage(8, u)));
    expect(pad).toMatchObject({ bitOffset: 5, size: 3, count: 1, usages: [] });
  });

  it('reads the keyboard as report 1 when it carries a report id', () => {
    const withId = parsed(KEYBOARD_WITH_ID_DESCRIPTOR);
    expect(withId.usesReportIds).toBe(true);
    expect(withId.reports.map((r) => [r.kind, r.id, r.bits])).toEqual([['input', 1, 64]]);
  });

  it('has no HID POS data field', () => {
    expect(findPosLayout(desc)).toEqual({ ok: false, error: 'no-decoded-data' });
  });
});

describe('parseReportDescriptor: HID POS scanners', () => {
  it('finds the Honeywell layout (PROTOCOLS §2b) from the descriptor', () => {
    const desc = parsed(HONEYWELL_POS_DESCRIPTOR);
    expect(desc.applications).toEqual([POS_USAGE.barCodeScanner]);
    expect(desc.reports.map((r) => [r.kind, r.id, r.bits / 8])).toEqual([
      ['input', 2, 63],
      ['output', 4, 63],
      ['feature', 0xfe, 1],
    ]);
    // Offsets in bits from after the report id: byte 1 length, 2–4 AIM, 5–60 data, 61 code id, 63 bit 0.
    expect(findPosLayout(desc)).toEqual({
      ok: true,
      value: {
        reportId: 2,
        usesReportIds: true,
        bytes: 63,
        length: { bitOffset: 0, size: 8 },
        aim: [8, 16, 24],
        data: { bitOffset: 32, length: 56 },
        codeId: 480,
        continued: 496,
      },
    });
  });

  it('finds a different (Newland-like) layout from its own descriptor', () => {
    expect(findPosLayout(parsed(NEWLAND_POS_DESCRIPTOR))).toEqual({
      ok: true,
      value: {
        reportId: 2,
        usesReportIds: true,
        bytes: 63,
        length: { bitOffset: 0, size: 8 },
        data: { bitOffset: 8, length: 56 },
        codeId: 488,
        continued: 496,
      },
    });
  });

  it('takes a 4-byte usage with its own page, and push/pop restores globals', () => {
    const desc = parsed(
      hex(`
        05 01 09 02 a1 01
        85 03 15 00 26 ff 00 75 08 95 02
        a4 75 10 95 01 0b 01 00 8c 00 81 02 b4
        0b fe 00 8c 00 81 02
        c0`),
    );
    const fields = desc.reports[0]?.fields ?? [];
    expect(fields.map((f) => [f.bitOffset, f.size, f.count, f.usages])).toEqual([
      [0, 16, 1, [usage(0x8c, 0x01)]],
      [16, 8, 2, [POS_USAGE.decodedData, POS_USAGE.decodedData]],
    ]);
  });

  it('reads a one-byte maximum of 0xFF as 255 when the minimum is 0', () => {
    const desc = parsed(hex('05 8c 09 02 a1 01 15 00 25 ff 75 08 95 01 09 fe 81 02 c0'));
    expect(desc.reports[0]?.fields[0]).toMatchObject({ logicalMin: 0, logicalMax: 255 });
  });
});

describe('parseReportDescriptor: malformed input', () => {
  it.each([
    ['', 'empty'],
    ['05', 'truncated'],
    ['26 ff', 'truncated'],
    ['fe 05 00 01', 'truncated'],
    ['a1 01 75 08 95 01 81 02', 'unbalanced-collection'],
    ['c0', 'unbalanced-collection'],
    ['b4', 'bad-pop'],
    ['85 00', 'bad-report-id'],
    ['75 08 95 01 81 02 85 01 81 02', 'mixed-report-ids'],
    ['75 ff 96 ff ff 81 02 81 02 81 02 81 02 81 02 81 02 81 02 81 02 81 02', 'too-large'],
  ])('%j → %s', (bytes, error) => {
    const r = parseReportDescriptor(hex(bytes));
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error).toBe(error);
  });

  it('skips a long item', () => {
    expect(parsed(hex('fe 02 10 aa bb 05 8c 09 02 a1 01 c0')).applications).toEqual([
      POS_USAGE.barCodeScanner,
    ]);
  });
});

describe('readBits', () => {
  it('reads little-endian bit fields across bytes', () => {
    const data = Uint8Array.of(0b1011_0000, 0b0000_0011);
    expect(readBits(data, 4, 4)).toBe(0b1011);
    expect(readBits(data, 7, 3)).toBe(0b111);
    expect(readBits(data, 0, 16)).toBe(0x03b0);
    expect(readBits(data, 12, 8)).toBe(0); // past the end reads zeros
  });
});

const ERRORS: ReadonlySet<DescriptorError> = new Set([
  'empty',
  'truncated',
  'unbalanced-collection',
  'bad-pop',
  'bad-report-id',
  'mixed-report-ids',
  'too-large',
]);

describe('parseReportDescriptor fuzz', () => {
  it('never throws on 100,000 random inputs; every failure is typed', () => {
    let failures = 0;
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 96 }), (bytes) => {
        const r = parseReportDescriptor(bytes);
        if (!r.ok) {
          failures++;
          expect(ERRORS.has(r.error)).toBe(true);
        } else {
          for (const rep of r.value.reports) expect(rep.bits).toBeGreaterThanOrEqual(0);
          findPosLayout(r.value);
        }
      }),
      { numRuns: 100_000 },
    );
    expect(failures).toBeGreaterThan(0);
  });

  it('never throws on 10,000 mutations of real descriptors', () => {
    const real = [BOOT_KEYBOARD_DESCRIPTOR, HONEYWELL_POS_DESCRIPTOR, NEWLAND_POS_DESCRIPTOR];
    fc.assert(
      fc.property(
        fc.constantFrom(...real),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
        (base, edits) => {
          const bytes = Buffer.from(base);
          for (const [at, v] of edits) bytes[at % bytes.length] = v;
          const r = parseReportDescriptor(bytes);
          if (!r.ok) expect(ERRORS.has(r.error)).toBe(true);
          else findPosLayout(r.value);
        },
      ),
      { numRuns: 10_000 },
    );
  });
});
