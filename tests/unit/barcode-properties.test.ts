import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Framing } from '../../drivers/serial-scanner/config.js';
import { decodeScan } from '../../drivers/serial-scanner/decode.js';
import { Framer } from '../../drivers/serial-scanner/framer.js';
import { SimulatedSerialScanner } from '../../simulators/serial-scanner.js';
import { AI_TABLE, type AiDef } from '../../src/barcode/ai-table.js';
import type { Gs1Element, Gs1Value } from '../../src/barcode/ai-values.js';
import { describeAim } from '../../src/barcode/aim.js';
import { gs1CheckDigit } from '../../src/barcode/check-digit.js';
import { encodeDigitalLink, parseDigitalLink } from '../../src/barcode/digital-link.js';
import { encodeElementString, gs1Map, parseElementString } from '../../src/barcode/element-string.js';
import { interpretScan } from '../../src/barcode/interpret.js';

/**
 * For any GS1 element string built from the AI table: as an element string, as a Digital Link URI
 * (when it has a key) and as serial frames through the real Framer and decodeScan, the gateway reads
 * back the same AIs and the same typed values. The expected values come from an independent oracle.
 */

const NOW = Date.UTC(2026, 10, 24); // century window: 77–99 → 19xx, 00–76 → 20xx
const RUNS = 3000;

const DIGITS = '0123456789'.split('');
const CSET82 = `!"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz`.split('');
const digits = (min: number, max: number) =>
  fc.string({ unit: fc.constantFrom(...DIGITS), minLength: min, maxLength: max });
const text = (min: number, max: number) =>
  fc.string({ unit: fc.constantFrom(...CSET82), minLength: min, maxLength: max });
const two = (n: number) => String(n).padStart(2, '0');
const CURRENCIES: Record<string, string> = {
  '978': 'EUR',
  '840': 'USD',
  '826': 'GBP',
  '752': 'SEK',
  '999': '999',
};

/** AIs outside the table: the parser keeps them raw, by the GS1 length rules. */
const UNKNOWN: AiDef[] = [
  { ai: '240', title: '', kind: 'text', min: 1, max: 30, fixed: false },
  { ai: '91', title: '', kind: 'text', min: 1, max: 40, fixed: false },
  { ai: '410', title: '', kind: 'text', min: 13, max: 13, fixed: true },
];
const UNKNOWN_AIS = new Set(UNKNOWN.map((d) => d.ai));

const dateParts = fc.record({
  yy: fc.integer({ min: 0, max: 99 }),
  mm: fc.integer({ min: 1, max: 12 }),
  dd: fc.integer({ min: 0, max: 28 }),
});
const yymmdd = (p: { yy: number; mm: number; dd: number }) => `${two(p.yy)}${two(p.mm)}${two(p.dd)}`;

function rawFor(def: AiDef): fc.Arbitrary<string> {
  if (UNKNOWN_AIS.has(def.ai)) return def.fixed ? digits(def.max, def.max) : text(1, def.max);
  switch (def.kind) {
    case 'id':
      return digits(def.max - 1, def.max - 1).map((s) => `${s}${gs1CheckDigit(s)}`);
    case 'digits':
      return digits(def.max, def.max);
    case 'text':
      return text(1, def.max);
    case 'date':
      return dateParts.map(yymmdd);
    case 'datetime':
      return fc
        .tuple(
          dateParts.filter((p) => p.dd > 0),
          fc.integer({ min: 0, max: 23 }),
          fc.constantFrom('', '00', '59', '3007'),
        )
        .map(([d, hh, rest]) => `${yymmdd(d)}${two(hh)}${rest}`);
    case 'count':
    case 'amount':
      return digits(def.min, def.max);
    case 'measure':
      return digits(6, 6);
    case 'amount-iso':
      return fc.tuple(fc.constantFrom(...Object.keys(CURRENCIES)), digits(1, 15)).map(([c, v]) => c + v);
  }
}

/** The oracle: what each AI's value must read as, computed without the parser's code. */
function expectedValue(def: AiDef, raw: string): Gs1Value {
  if (UNKNOWN_AIS.has(def.ai)) return { raw, value: raw };
  const n = def.decimals ?? 0;
  const year = (yy: number) => (yy >= 77 ? 1900 + yy : 2000 + yy);
  const date = (s: string) => {
    const [y, m, d] = [year(Number(s.slice(0, 2))), Number(s.slice(2, 4)), Number(s.slice(4, 6))];
    const day = d === 0 ? new Date(Date.UTC(y, m, 0)).getUTCDate() : d;
    return `${y}-${two(m)}-${two(day)}`;
  };
  switch (def.kind) {
    case 'count':
      return { raw, value: Number(raw) };
    case 'measure':
      return { raw, value: Number(raw) / 10 ** n, unit: def.unit as string };
    case 'amount':
      return { raw, value: Number(raw) / 10 ** n };
    case 'amount-iso':
      return { raw, value: Number(raw.slice(3)) / 10 ** n, currency: CURRENCIES[raw.slice(0, 3)] as string };
    case 'date':
      return { raw, value: date(raw) };
    case 'datetime':
      return {
        raw,
        value: `${date(raw.slice(0, 6))}T${raw.slice(6, 8)}:${raw.slice(8, 10) || '00'}:${raw.slice(10, 12) || '00'}`,
      };
    default:
      return { raw, value: raw };
  }
}

const TABLE = [...AI_TABLE.values()];
const CORE = TABLE.filter((d) => d.ai.length === 2 || d.ai === '8008');

/** A GS1 element string as a list of distinct AIs with valid values, and the values the parser must give. */
const elementStrings = fc
  .uniqueArray(
    fc.oneof(
      { arbitrary: fc.constantFrom(...CORE), weight: 4 },
      { arbitrary: fc.constantFrom(...TABLE), weight: 3 },
      { arbitrary: fc.constantFrom(...UNKNOWN), weight: 1 },
    ),
    { selector: (d) => d.ai, minLength: 1, maxLength: 7 },
  )
  .chain((defs) => fc.tuple(...defs.map((d) => rawFor(d).map((raw) => ({ def: d, raw })))))
  .map((items) => ({
    elements: items.map(({ def, raw }) => ({ ai: def.ai, raw })),
    expected: items.map(({ def, raw }): Gs1Element => ({ ai: def.ai, ...expectedValue(def, raw) })),
  }));

const FRAMINGS: Framing[] = [{ suffix: '\r\n' }, { stx: true }, { idleMs: 20 }, { suffix: '\r' }];
const GS1_AIMS = [']C1', ']e0', ']d2', ']Q3', ']J1'];

/** The frames the gateway's serial path cuts from `chunks`, decoded as the driver does. */
function throughSerial(framing: Framing, chunks: Buffer[]): string[] {
  const framer = new Framer(framing, 4096);
  const results = [...chunks.flatMap((c) => framer.push(c)), ...framer.flush()];
  return results.map((r) => {
    if (!r.ok) throw new Error(`frame error ${r.error}`);
    const scan = decodeScan(r.frame, { aim: true });
    if (!scan.ok) throw new Error(`decode error ${scan.error}`);
    return `${scan.value.aim}${scan.value.text}`;
  });
}

/** Cuts `buf` at the given fractions, as a serial port delivers it in chunks. */
function cut(buf: Buffer, at: number[]): Buffer[] {
  const points = [...new Set(at.map((f) => Math.floor(f * buf.length)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const p of [...points, buf.length]) {
    if (p > from) out.push(buf.subarray(from, p));
    from = Math.max(from, p);
  }
  return out;
}

describe('GS1 round trips (property-based)', () => {
  it('element string → parse gives the same AIs, in order, with the oracle values', () => {
    fc.assert(
      fc.property(elementStrings, ({ elements, expected }) => {
        const r = parseElementString(encodeElementString(elements), { nowMs: NOW });
        expect(r).toEqual({ ok: true, value: expected });
      }),
      { numRuns: RUNS },
    );
  });

  it('Digital Link URI → parse gives the same AIs and values (strings with a 01 or 00 key)', () => {
    let checked = 0;
    fc.assert(
      fc.property(
        elementStrings,
        fc.constantFrom('https://id.gs1.org', 'https://example.com/shop/p', 'http://qr.example.org:8080'),
        ({ elements, expected }, base) => {
          const uri = encodeDigitalLink(elements, base);
          if (uri === null) return;
          checked++;
          const r = parseDigitalLink(uri, { nowMs: NOW });
          expect(r.ok).toBe(true);
          expect(r.ok && gs1Map(r.value)).toEqual(gs1Map(expected));
        },
      ),
      { numRuns: RUNS },
    );
    expect(checked).toBeGreaterThan(RUNS / 10);
  });

  it('serial frames (every framing, any chunking) → Framer → decodeScan → interpretScan give the same AIs', () => {
    fc.assert(
      fc.property(
        elementStrings,
        fc.constantFrom(...GS1_AIMS),
        fc.constantFrom(...FRAMINGS),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 4 }),
        ({ elements, expected }, aim, framing, cuts) => {
          const scanner = new SimulatedSerialScanner({ linkPath: '/nonexistent', framing, aim: true });
          const code = { text: encodeElementString(elements), aim };
          const frames = throughSerial(framing, cut(scanner.frame(code), cuts));
          expect(frames).toEqual([`${aim}${code.text}`]);
          const semantics = interpretScan(
            { text: code.text, aim, symbology: describeAim(aim).symbology },
            { schemes: [], nowMs: NOW },
          );
          expect(semantics.valid).toBe(true);
          expect(semantics.gs1).toEqual(gs1Map(expected));
          expect(semantics.gtin).toBe(expected.find((e) => e.ai === '01')?.raw);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('all three encodings of one string agree with each other', () => {
    fc.assert(
      fc.property(elementStrings, ({ elements }) => {
        const es = parseElementString(encodeElementString(elements), { nowMs: NOW });
        const uri = encodeDigitalLink(elements);
        if (!es.ok || uri === null) return;
        const dl = parseDigitalLink(uri, { nowMs: NOW });
        const qr = interpretScan({ text: uri, aim: ']Q1', symbology: 'qr' }, { schemes: [], nowMs: NOW });
        expect(dl.ok && gs1Map(dl.value)).toEqual(gs1Map(es.value));
        expect(qr.gs1).toEqual(gs1Map(es.value));
      }),
      { numRuns: RUNS },
    );
  });
});
