import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { describeCodeId } from '../../drivers/hid-scanner/code-ids.js';
import { createReportDecoder } from '../../drivers/hid-scanner/decoder.js';
import { PosAssembler, type PosError, type PosResult } from '../../drivers/hid-scanner/pos.js';
import {
  BOOT_KEYBOARD_DESCRIPTOR,
  encodePosReports,
  HONEYWELL_POS_DESCRIPTOR,
  NEWLAND_POS_DESCRIPTOR,
  posLayoutOf,
} from '../../simulators/hid-scanner.js';

const GS = '\x1d';
const honeywell = () => new PosAssembler(posLayoutOf(HONEYWELL_POS_DESCRIPTOR), 4096);
const newland = () => new PosAssembler(posLayoutOf(NEWLAND_POS_DESCRIPTOR), 4096);
const run = (a: PosAssembler, reports: readonly Buffer[]): PosResult[] => reports.flatMap((r) => a.push(r));

/** A Honeywell report built by hand from the byte table in PROTOCOLS §2b (not by the simulator). */
function honeywellReport(data: string, opts: { aim?: string; codeId?: string; more?: boolean } = {}): Buffer {
  const b = Buffer.alloc(64);
  b[0] = 0x02;
  b[1] = data.length;
  if (opts.aim) b.write(opts.aim, 2, 'latin1');
  b.write(data, 5, 'latin1');
  if (opts.codeId) b[61] = opts.codeId.charCodeAt(0);
  b[63] = opts.more ? 1 : 0;
  return b;
}

describe('PosAssembler: Honeywell layout', () => {
  it('decodes one report with its AIM identifier', () => {
    const out = run(honeywell(), [honeywellReport('4006381333931', { aim: ']E0', codeId: 'd' })]);
    expect(out).toEqual([{ ok: true, value: { text: '4006381333931', aim: ']E0', symbology: 'ean-13' } }]);
  });

  it('uses the Honeywell code id when no AIM identifier is sent', () => {
    const out = run(honeywell(), [honeywellReport('0123456789', { codeId: 'j' })]);
    expect(out).toEqual([{ ok: true, value: { text: '0123456789', symbology: 'code-128' } }]);
  });

  it('joins continuation reports (the Access-IS 60-byte example: 56 + 4)', () => {
    const text = 'M1GATHERGOOD/MICHAEL YABCDEF LHRDURAK 3542 052Y003D23  ABCDE';
    expect(text).toHaveLength(60);
    const a = honeywell();
    const first = a.push(honeywellReport(text.slice(0, 56), { aim: ']Q0', codeId: 's', more: true }));
    expect(first).toEqual([]);
    expect(a.hasPartial).toBe(true);
    const second = a.push(honeywellReport(text.slice(56), { aim: ']Q0', codeId: 's' }));
    expect(second).toEqual([{ ok: true, value: { text, aim: ']Q0', symbology: 'qr-model-1' } }]);
    expect(a.hasPartial).toBe(false);
  });

  it('keeps GS separators and decodes UTF-8', () => {
    const text = `0109501101530003${GS}10ÄBC`;
    const out = run(
      honeywell(),
      encodePosReports(Buffer.from(text), HONEYWELL_POS_DESCRIPTOR, { aim: ']d2' }),
    );
    expect(out).toEqual([{ ok: true, value: { text, aim: ']d2', symbology: 'gs1-datamatrix' } }]);
  });

  it('reports a continued barcode whose last report never comes as incomplete', () => {
    const a = honeywell();
    a.push(honeywellReport('0123', { more: true }));
    expect(a.flush()).toEqual([{ ok: false, error: 'incomplete', detail: '4 bytes' }]);
    expect(a.flush()).toEqual([]);
  });

  it('types other reports, short reports, bad lengths, empty and over-long barcodes', () => {
    const codes = (out: PosResult[]) => out.map((x) => (x.ok ? x.value.text : x.error));
    expect(codes(honeywell().push(Buffer.of(0x04, 1, 2, 3)))).toEqual(['other-report']);
    expect(codes(honeywell().push(Buffer.of(0x02, 5, 0x5d)))).toEqual(['short-report']);
    const bad = honeywellReport('12');
    bad[1] = 57;
    expect(codes(honeywell().push(bad))).toEqual(['bad-length']);
    expect(codes(honeywell().push(honeywellReport('')))).toEqual(['empty']);
    const small = new PosAssembler(posLayoutOf(HONEYWELL_POS_DESCRIPTOR), 60);
    const long = encodePosReports(Buffer.from('x'.repeat(120)), HONEYWELL_POS_DESCRIPTOR);
    expect(codes(run(small, long))).toEqual(['too-long']);
    expect(codes(run(small, encodePosReports(Buffer.from('ok'), HONEYWELL_POS_DESCRIPTOR)))).toEqual(['ok']);
  });
});

describe('PosAssembler: Newland-like layout (different offsets, no AIM)', () => {
  it('reads data at bytes 2–57 and the symbology byte at 62', () => {
    const b = Buffer.alloc(64);
    b[0] = 2;
    b[1] = 8;
    b.write('96385074', 2, 'latin1');
    b[62] = 'D'.charCodeAt(0);
    expect(newland().push(b)).toEqual([{ ok: true, value: { text: '96385074', symbology: 'ean-8' } }]);
  });

  it('the same bytes at Honeywell offsets would not decode the same', () => {
    const reports = encodePosReports(Buffer.from('96385074'), NEWLAND_POS_DESCRIPTOR, { codeId: 'D' });
    const out = honeywell().push(reports[0] as Buffer);
    expect(out).not.toEqual(newland().push(reports[0] as Buffer));
  });
});

describe('createReportDecoder', () => {
  const config = {
    mode: 'hid-pos' as const,
    wedge: { layout: 'us' as const, terminators: ['enter' as const], idleMs: 100 },
    aim: false,
    maxScanBytes: 4096,
  };

  it('needs a HID POS descriptor in hid-pos mode', () => {
    expect(createReportDecoder(config, undefined)).toMatchObject({ ok: false, error: 'no-descriptor' });
    expect(createReportDecoder(config, BOOT_KEYBOARD_DESCRIPTOR)).toMatchObject({
      ok: false,
      error: 'no-decoded-data',
    });
    expect(createReportDecoder(config, Buffer.of(0x05))).toMatchObject({
      ok: false,
      error: 'descriptor-truncated',
    });
    expect(createReportDecoder(config, HONEYWELL_POS_DESCRIPTOR).ok).toBe(true);
  });

  it('in wedge mode takes the keyboard report id from the descriptor, or assumes the boot report', () => {
    const wedge = { ...config, mode: 'keyboard-wedge' as const };
    expect(createReportDecoder(wedge, undefined).ok).toBe(true);
    expect(createReportDecoder(wedge, HONEYWELL_POS_DESCRIPTOR)).toMatchObject({
      ok: false,
      error: 'no-keyboard-report',
    });
  });
});

describe('Honeywell code ids', () => {
  it.each([
    ['d', 'ean-13'],
    ['D', 'ean-8'],
    ['c', 'upc-a'],
    ['E', 'upc-e'],
    ['j', 'code-128'],
    ['I', 'gs1-128'],
    ['b', 'code-39'],
    ['w', 'datamatrix'],
    ['s', 'qr'],
    ['r', 'pdf417'],
    ['y', 'gs1-databar'],
    ['z', 'aztec'],
    ['~', 'code-id-~'],
  ])('%s → %s', (id, name) => {
    expect(describeCodeId(id.charCodeAt(0))).toBe(name);
  });

  it('0 and control bytes name nothing', () => {
    expect(describeCodeId(0)).toBeUndefined();
    expect(describeCodeId(0x1d)).toBeUndefined();
  });
});

const content = fc.string({
  unit: fc.oneof(
    fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
    fc.constant(GS),
  ),
  minLength: 1,
  maxLength: 300,
});

describe('PosAssembler properties', () => {
  it.each([
    ['Honeywell', HONEYWELL_POS_DESCRIPTOR],
    ['Newland-like', NEWLAND_POS_DESCRIPTOR],
  ])('%s: any text, cut into continuation reports at random → the same text', (_name, descriptor) => {
    fc.assert(
      fc.property(content, fc.array(fc.integer({ min: 1, max: 56 }), { maxLength: 40 }), (text, chunks) => {
        const a = new PosAssembler(posLayoutOf(descriptor), 4096);
        const reports = encodePosReports(Buffer.from(text, 'latin1'), descriptor, { aim: ']C1', chunks });
        const out = run(a, reports);
        expect(out).toHaveLength(1);
        expect(out[0]?.ok && out[0].value.text).toBe(text);
        expect(a.hasPartial).toBe(false);
      }),
      { numRuns: 1000 },
    );
  });
});

const POS_ERRORS: ReadonlySet<PosError> = new Set([
  'other-report',
  'short-report',
  'bad-length',
  'too-long',
  'incomplete',
  'empty',
]);

describe('PosAssembler fuzz', () => {
  it('never throws on 100,000 random reports; every failure is typed', () => {
    const assemblers = [honeywell(), newland(), new PosAssembler(posLayoutOf(HONEYWELL_POS_DESCRIPTOR), 100)];
    let failures = 0;
    fc.assert(
      fc.property(
        fc.nat(2),
        fc.oneof(
          fc.uint8Array({ maxLength: 70 }),
          fc.uint8Array({ minLength: 63, maxLength: 63 }).map((b) => Buffer.concat([Buffer.of(2), b])),
        ),
        fc.boolean(),
        (i, bytes, flush) => {
          const a = assemblers[i] as PosAssembler;
          const out = [...a.push(bytes), ...(flush ? a.flush() : [])];
          for (const res of out) {
            if (res.ok) expect(typeof res.value.symbology).toBe('string');
            else {
              failures++;
              expect(POS_ERRORS.has(res.error)).toBe(true);
            }
          }
        },
      ),
      { numRuns: 100_000 },
    );
    expect(failures).toBeGreaterThan(0);
  });
});
