import { describe, expect, it } from 'vitest';
import type { Framing } from '../../drivers/serial-scanner/config.js';
import { decodeScan } from '../../drivers/serial-scanner/decode.js';
import { Framer } from '../../drivers/serial-scanner/framer.js';
import { seededRandom } from '../../simulators/barcodes.js';
import { describeAim, scanDataType, splitAim } from '../../src/barcode/aim.js';
import { priceCheckDigit } from '../../src/barcode/check-digit.js';
import { parseDigitalLink } from '../../src/barcode/digital-link.js';
import { parseElementString } from '../../src/barcode/element-string.js';
import { expandUpcE, normaliseGtin } from '../../src/barcode/gtin.js';
import { INVALID_REASONS } from '../../src/barcode/interpret.js';
import { decodeVariableMeasure, PRESET_NAMES, resolveSchemes } from '../../src/barcode/variable-measure.js';
import { ScanData } from '../../src/events/catalog.js';
import { enrichScanData } from '../../src/pipeline/scan-enrich.js';
import { createAjv } from '../../src/schema/ajv.js';

/**
 * Every decoder gets 100,000 inputs from a seeded generator (so a failure replays exactly): random
 * text, random bytes, and valid codes with random damage. None may throw; every failure must be a
 * typed result, and the tallies show both outcomes were reached.
 */

const RUNS = 100_000;
const NOW = Date.UTC(2026, 10, 24);
const GS = '\u001d';
const REASONS = new Set<string>(INVALID_REASONS);

type Rng = () => number;
const int = (r: Rng, n: number) => Math.floor(r() * n);
const pick = <T>(r: Rng, xs: readonly T[]): T => xs[int(r, xs.length)] as T;

const VALID_TEXTS = [
  `01095060001343521729123110ABC${GS}21XYZ`,
  '0109506000134352',
  `0109506000134352${GS}3103001250${GS}10L1`,
  '00106141411234567897',
  `3922199939329781999${GS}8008291231153045`,
  `0209506000134352370000001215291200`,
  '4006381333931',
  '0036000291452',
  '2012345612501',
  '2812347012503',
  '0212345105993',
  '96385074',
  '04252614',
  '400638133393112',
  'https://id.gs1.org/01/09506000134352/10/ABC/21/XYZ?17=291231&3103=000195',
  'https://example.com/p/01/9506000134352/22/A%2FB?linkType=all&392=1999',
  'https://example.com/00/106141411234567897',
];
const ALPHABET = `0123456789012345678901234567890123456789${GS}${GS}ABCXYZabc!"%&'()*+,-./:;<=>?_ é\u0000\u00ff\ud83d\ude00/?=&#%`;

/** Damages `s`: deletes, duplicates, replaces or inserts characters, or splices two strings. */
function mutate(r: Rng, s: string): string {
  let out = s;
  const edits = 1 + int(r, 4);
  for (let i = 0; i < edits; i++) {
    const at = int(r, out.length + 1);
    const ch = pick(r, ALPHABET.split(''));
    switch (int(r, 5)) {
      case 0:
        out = out.slice(0, at) + out.slice(at + 1);
        break;
      case 1:
        out = out.slice(0, at) + ch + out.slice(at);
        break;
      case 2:
        out = out.slice(0, at) + ch + out.slice(at + 1);
        break;
      case 3:
        out = out.slice(0, at) + out.slice(at, at + 1 + int(r, 8)) + out.slice(at);
        break;
      default:
        out = out.slice(0, at) + pick(r, VALID_TEXTS).slice(int(r, 20));
    }
  }
  return out;
}

function randomText(r: Rng): string {
  const kind = int(r, 3);
  if (kind === 0) return mutate(r, pick(r, VALID_TEXTS));
  if (kind === 1) return pick(r, VALID_TEXTS);
  const len = int(r, 60);
  let s = '';
  for (let i = 0; i < len; i++) s += ALPHABET[int(r, ALPHABET.length)];
  return s;
}

function tally(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

describe('fuzz: GS1 decoders (100,000 inputs each)', () => {
  it('parseElementString never throws; failures are typed', () => {
    const r = seededRandom(1);
    const outcomes = new Map<string, number>();
    const errors = new Set([
      'empty',
      'unknown-ai',
      'truncated',
      'too-long',
      'not-numeric',
      'bad-character',
      'check-digit',
      'invalid-date',
      'duplicate-ai',
    ]);
    for (let i = 0; i < RUNS; i++) {
      const res = parseElementString(randomText(r), { nowMs: NOW });
      if (res.ok) {
        for (const e of res.value) {
          if (!/^[0-9]{2,4}$/.test(e.ai) || e.raw.length > 90)
            throw new Error(`bad element ${JSON.stringify(e)}`);
        }
        tally(outcomes, 'ok');
      } else {
        if (!errors.has(res.error)) throw new Error(`untyped failure ${res.error}`);
        tally(outcomes, res.error);
      }
    }
    expect(outcomes.get('ok')).toBeGreaterThan(1000);
    expect(outcomes.size).toBeGreaterThanOrEqual(8);
  });

  it('parseDigitalLink never throws; failures are typed', () => {
    const r = seededRandom(2);
    const outcomes = new Map<string, number>();
    const segments = [
      '01',
      '00',
      '10',
      '21',
      '22',
      '17',
      '09506000134352',
      '9506000134352',
      '106141411234567897',
      'ABC',
      '%2F',
      '%zz',
      '',
      '.',
      '..',
    ];
    for (let i = 0; i < RUNS; i++) {
      let uri: string;
      if (r() < 0.5)
        uri = mutate(
          r,
          pick(
            r,
            VALID_TEXTS.filter((t) => t.startsWith('http')),
          ),
        );
      else {
        const n = int(r, 7);
        uri = `${pick(r, ['https', 'http', 'HTTPS', 'ftp'])}://${pick(r, ['id.gs1.org', 'x', ''])}`;
        for (let k = 0; k < n; k++) uri += `/${pick(r, segments)}`;
        if (r() < 0.5) uri += `?${randomText(r)}`;
      }
      const res = parseDigitalLink(uri, { nowMs: NOW });
      tally(outcomes, res.ok ? 'ok' : res.error);
    }
    const known = new Set(['ok', 'not-digital-link', 'bad-encoding', ...INVALID_REASONS]);
    for (const key of outcomes.keys()) expect(known.has(key), key).toBe(true);
    expect(outcomes.get('ok')).toBeGreaterThan(1000);
    expect(outcomes.get('not-digital-link')).toBeGreaterThan(1000);
  });

  it('GTIN, UPC-E, variable measure and price check digits never throw', () => {
    const r = seededRandom(3);
    const schemes = resolveSchemes(PRESET_NAMES);
    const outcomes = new Map<string, number>();
    for (let i = 0; i < RUNS; i++) {
      const len = int(r, 16);
      let s = r() < 0.3 ? pick(r, VALID_TEXTS).slice(0, len) : '';
      while (s.length < len) s += r() < 0.95 ? String(int(r, 10)) : pick(r, ['x', ' ', GS, '-']);
      const g = normaliseGtin(s);
      tally(outcomes, g.ok ? 'gtin-ok' : `gtin-${g.error}`);
      const e = expandUpcE(s);
      if (e !== null && !/^[01][0-9]{11}$/.test(e)) throw new Error(`bad UPC-E expansion ${e}`);
      const vm = decodeVariableMeasure(s, schemes);
      tally(outcomes, vm.ok ? (vm.value ? 'vm' : 'vm-none') : `vm-${vm.error}`);
      const c = priceCheckDigit(s.slice(0, 4 + int(r, 2)));
      if (c !== null && !(c >= 0 && c <= 9)) throw new Error(`bad price check digit ${c}`);
    }
    for (const key of [
      'gtin-ok',
      'gtin-check-digit',
      'gtin-length',
      'gtin-not-numeric',
      'vm',
      'vm-none',
      'vm-price-check-digit',
    ])
      expect(outcomes.get(key), key).toBeGreaterThan(0);
  });

  it('AIM helpers never throw on any text', () => {
    const r = seededRandom(4);
    let split = 0;
    for (let i = 0; i < RUNS; i++) {
      const s = r() < 0.5 ? `]${randomText(r)}` : randomText(r);
      const parts = splitAim(s);
      if (parts) split++;
      const info = describeAim(s.slice(0, 3));
      const sdt = scanDataType(info.symbology, s, s.slice(0, 3));
      if (!Number.isInteger(sdt)) throw new Error('ScanDataType not an integer');
    }
    expect(split).toBeGreaterThan(1000);
  });
});

describe('fuzz: scan enrichment (100,000 inputs each)', () => {
  const validate = createAjv({ allErrors: true }).compile(ScanData);
  const schemes = resolveSchemes(PRESET_NAMES);
  const SYMBOLOGIES = [
    'unknown',
    'ean-13',
    'ean-8',
    'ean-13-addon',
    'upc-a',
    'upc-e',
    'gs1-128',
    'gs1-databar',
    'gs1-datamatrix',
    'gs1-qr',
    'gs1-dotcode',
    'qr',
    'itf',
    'code-128',
    'aim-K',
    'ean',
  ];

  function check(data: ReturnType<typeof enrichScanData>, outcomes: Map<string, number>): void {
    if (!validate(data))
      throw new Error(`schema: ${JSON.stringify(validate.errors)} for ${JSON.stringify(data)}`);
    if (data.valid === false && !REASONS.has(data.reason as string))
      throw new Error(`untyped ${data.reason}`);
    tally(outcomes, data.valid === undefined ? 'unchecked' : data.valid ? 'valid' : `invalid-${data.reason}`);
  }

  it('enrichScanData: never throws, always schema-valid, invalid always has a typed reason', () => {
    const r = seededRandom(5);
    const outcomes = new Map<string, number>();
    for (let i = 0; i < RUNS; i++) {
      const symbology = pick(r, SYMBOLOGIES);
      const data = enrichScanData(
        { deviceId: 'lane-1', text: randomText(r), symbology },
        {
          schemes,
          nowMs: NOW + int(r, 100) * 365 * 86_400_000,
          onError: (e) => {
            throw e;
          },
        },
      );
      check(data, outcomes);
    }
    expect(outcomes.get('valid')).toBeGreaterThan(1000);
    expect(outcomes.get('unchecked')).toBeGreaterThan(1000);
    expect([...outcomes.keys()].filter((k) => k.startsWith('invalid-')).length).toBeGreaterThanOrEqual(8);
  });

  it('serial path: random bytes → Framer → decodeScan → enrichScanData never throws', () => {
    const r = seededRandom(6);
    const framings: Framing[] = [{ suffix: '\r\n' }, { stx: true }, { idleMs: 20 }];
    const outcomes = new Map<string, number>();
    for (let i = 0; i < RUNS; i++) {
      const framing = pick(r, framings);
      const framer = new Framer(framing, 256);
      let bytes: Buffer;
      if (r() < 0.6) {
        const body = Buffer.from(
          `${pick(r, [']C1', ']E0', ']Q1', ']d2', ']e0', ']X0', '', ']'])}${randomText(r)}`,
          'utf8',
        );
        bytes = framing.stx
          ? Buffer.concat([Buffer.from([2]), body, Buffer.from([3])])
          : Buffer.concat([body, Buffer.from('\r\n')]);
      } else {
        bytes = Buffer.alloc(int(r, 80));
        for (let k = 0; k < bytes.length; k++) bytes[k] = int(r, 256);
      }
      for (const res of [...framer.push(bytes), ...framer.flush()]) {
        if (!res.ok) {
          tally(outcomes, `frame-${res.error}`);
          continue;
        }
        const scan = decodeScan(res.frame, { aim: r() < 0.8 });
        if (!scan.ok) {
          tally(outcomes, `decode-${scan.error}`);
          continue;
        }
        check(enrichScanData({ deviceId: 'lane-1', ...scan.value }, { schemes, nowMs: NOW }), outcomes);
      }
    }
    expect(outcomes.get('valid')).toBeGreaterThan(100);
    expect(outcomes.get('decode-missing-aim')).toBeGreaterThan(100);
  });
});
