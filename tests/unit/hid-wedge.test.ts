import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LAYOUT_NAMES, LAYOUTS, type LayoutName } from '../../drivers/hid-scanner/layouts.js';
import {
  WedgeDecoder,
  type WedgeError,
  type WedgeOptions,
  type WedgeResult,
} from '../../drivers/hid-scanner/wedge.js';
import { encodeWedge, typeable } from '../../simulators/hid-scanner.js';

const GS = '\x1d';
const r = (mods: number, ...keys: number[]) => Buffer.from([mods, 0, ...keys, 0, 0, 0, 0, 0, 0].slice(0, 8));
const UP = r(0);
const SHIFT = 0x02;
const CTRL = 0x01;
const ALTGR = 0x40;

function decoder(layout: LayoutName, o: Partial<WedgeOptions> = {}): WedgeDecoder {
  return new WedgeDecoder({
    layout: LAYOUTS[layout],
    terminators: ['enter'],
    aim: false,
    maxBytes: 4096,
    ...o,
  });
}

function run(d: WedgeDecoder, reports: readonly Buffer[]): WedgeResult[] {
  return reports.flatMap((rep) => d.push(rep));
}

/** Key-down + all-up for each [mods, usage]. */
const keys = (...strokes: [number, number][]) => strokes.flatMap(([m, u]) => [r(m, u), UP]);
const ENTER: [number, number] = [0, 0x28];

const texts = (results: WedgeResult[]) => results.map((x) => (x.ok ? x.value.text : `!${x.error}`));

describe('WedgeDecoder: layouts', () => {
  it('US: letters, shifted digits, GS as Ctrl+]', () => {
    const d = decoder('us');
    const out = run(d, keys([SHIFT, 0x04], [0, 0x05], [SHIFT, 0x1f], [CTRL, 0x30], [0, 0x1e], ENTER));
    expect(texts(out)).toEqual([`Ab@${GS}1`]);
  });

  it('UK: Shift+2 is ", Shift+3 is £, Shift+\' is @, the ISO key 0x32 is #', () => {
    const out = run(
      decoder('uk'),
      keys([SHIFT, 0x1f], [SHIFT, 0x20], [SHIFT, 0x34], [0, 0x32], [0, 0x64], ENTER),
    );
    expect(texts(out)).toEqual(['"£@#\\']);
  });

  it('DE: Y and Z swapped, @ is AltGr+Q, ^ is a dead key then Space, GS is Ctrl + usage 0x30', () => {
    const out = run(
      decoder('de'),
      keys([0, 0x1c], [0, 0x1d], [ALTGR, 0x14], [0, 0x35], [0, 0x2c], [SHIFT, 0x24], [CTRL, 0x30], ENTER),
    );
    expect(texts(out)).toEqual([`zy@^/${GS}`]);
  });

  it('FR: digits need Shift, A/Q and Z/W swapped, M right of L, @ is AltGr+à', () => {
    const out = run(
      decoder('fr'),
      keys(
        [SHIFT, 0x1e],
        [0, 0x1e],
        [0, 0x14],
        [0, 0x04],
        [0, 0x1a],
        [0, 0x1d],
        [0, 0x33],
        [ALTGR, 0x27],
        ENTER,
      ),
    );
    expect(texts(out)).toEqual(['1&aqzwm@']);
  });

  it('control characters follow the layout for letters: Ctrl + the key that types "a"', () => {
    expect(texts(run(decoder('us'), keys([CTRL, 0x04], ENTER)))).toEqual(['\x01']);
    expect(texts(run(decoder('fr'), keys([CTRL, 0x14], ENTER)))).toEqual(['\x01']);
    expect(texts(run(decoder('de'), keys([CTRL, 0x1c], ENTER)))).toEqual(['\x1a']);
  });

  it.each(LAYOUT_NAMES)('%s: GS is Ctrl + usage 0x30, RS Ctrl+Shift+0x23, US Ctrl+Shift+0x2D', (layout) => {
    const out = run(decoder(layout), keys([CTRL, 0x30], [CTRL | SHIFT, 0x23], [CTRL | SHIFT, 0x2d], ENTER));
    expect(texts(out)).toEqual(['\x1d\x1e\x1f']);
  });

  it('the simulator encodes each layout the same way (byte for byte)', () => {
    expect(encodeWedge('A', 'us', { terminator: 'none' })).toEqual([r(SHIFT, 0x04), UP]);
    expect(encodeWedge(GS, 'us', { terminator: 'none' })).toEqual([r(CTRL, 0x30), UP]);
    expect(encodeWedge('z', 'de', { terminator: 'none' })).toEqual([r(0, 0x1c), UP]);
    expect(encodeWedge('^', 'de', { terminator: 'none' })).toEqual([r(0, 0x35), UP, r(0, 0x2c), UP]);
    expect(encodeWedge('1', 'fr', { terminator: 'none' })).toEqual([r(SHIFT, 0x1e), UP]);
    expect(encodeWedge('@', 'fr', { terminator: 'none' })).toEqual([r(ALTGR, 0x27), UP]);
    expect(encodeWedge('#', 'uk', { terminator: 'none' })).toEqual([r(0, 0x32), UP]);
    expect(encodeWedge('"', 'uk', { terminator: 'none' })).toEqual([r(SHIFT, 0x1f), UP]);
    expect(encodeWedge('4', 'us', { terminator: 'keypad-enter' })).toEqual([r(0, 0x21), UP, r(0, 0x58), UP]);
  });
});

describe('WedgeDecoder: scans', () => {
  it('ends a scan at Enter and at keypad Enter; repeated characters need the all-up between', () => {
    const d = decoder('us');
    const out = run(d, [...keys([0, 0x1e], [0, 0x1e], ENTER), ...keys([0, 0x1f], [0, 0x58])]);
    expect(texts(out)).toEqual(['11', '2']);
  });

  it('types Enter as CR when only Tab ends a scan', () => {
    const d = decoder('us', { terminators: ['tab'] });
    expect(texts(run(d, keys([0, 0x1e], ENTER, [0, 0x1f], [0, 0x2b])))).toEqual(['1\r2']);
  });

  it('ends a scan without a terminator at the idle gap (flush)', () => {
    const d = decoder('us', { terminators: [] });
    expect(run(d, keys([0, 0x1e], [0, 0x1f]))).toEqual([]);
    expect(d.hasPartial).toBe(true);
    expect(texts(d.flush())).toEqual(['12']);
    expect(d.flush()).toEqual([]);
  });

  it('counts a key only when it goes down (a report repeating a held key adds nothing)', () => {
    const d = decoder('us');
    expect(texts(run(d, [r(0, 0x04), r(0, 0x04), r(0, 0x04, 0x05), UP, r(0, 0x28)]))).toEqual(['ab']);
  });

  it('drops a scan with a key the layout cannot type, whole', () => {
    const d = decoder('us');
    const out = run(d, [...keys([0, 0x1e], [0, 0x3a], [0, 0x1f], ENTER), ...keys([0, 0x20], ENTER)]);
    expect(out[0]).toMatchObject({ ok: false, error: 'unmapped-key' });
    expect(texts(out.slice(1))).toEqual(['3']);
  });

  it('reports rollover, an empty scan, a short report and another report id', () => {
    expect(texts(run(decoder('us'), [r(0, 1, 1, 1, 1, 1, 1), ...keys(ENTER)]))).toEqual(['!rollover']);
    expect(texts(run(decoder('us'), keys(ENTER)))).toEqual(['!empty']);
    expect(texts(decoder('us').push(Buffer.of(0, 0)))).toEqual(['!short-report']);
    const withId = decoder('us', { reportId: 1 });
    expect(texts(withId.push(Buffer.of(2, 0, 0, 4, 0, 0, 0, 0, 0)))).toEqual(['!other-report']);
    expect(texts(run(withId, encodeWedge('ok', 'us', { reportId: 1 })))).toEqual(['ok']);
  });

  it('splits an AIM identifier off with aim: true', () => {
    const d = decoder('us', { aim: true });
    const [res] = run(d, encodeWedge(']E04006381333931', 'us'));
    expect(res).toEqual({ ok: true, value: { text: '4006381333931', aim: ']E0', symbology: 'ean-13' } });
    expect(texts(run(d, encodeWedge('4006381333931', 'us')))).toEqual(['!missing-aim']);
  });

  it('discards an over-long scan', () => {
    const d = decoder('us', { maxBytes: 16 });
    expect(texts(run(d, encodeWedge('x'.repeat(17), 'us')))).toEqual(['!too-long']);
    expect(texts(run(d, encodeWedge('y'.repeat(16), 'us')))).toEqual(['y'.repeat(16)]);
  });
});

const printable = fc.string({
  unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
  minLength: 1,
  maxLength: 60,
});
const gs1ish = fc
  .array(
    fc.oneof(
      fc.constantFrom('01', '10', '17', '21', '3103', '392', '8008').map((ai) => ai),
      fc.string({ unit: fc.constantFrom(...'0123456789ABCDEFXYZ-/'), minLength: 1, maxLength: 20 }),
      fc.constant(GS),
    ),
    { minLength: 1, maxLength: 12 },
  )
  .map((parts) => parts.join(''));

describe('WedgeDecoder properties', () => {
  it.each(LAYOUT_NAMES)(
    '%s: any printable ASCII or GS1-ish text → wedge reports → the same text',
    (layout) => {
      fc.assert(
        fc.property(
          fc.oneof(printable, gs1ish),
          fc.constantFrom('enter', 'keypad-enter') as fc.Arbitrary<'enter'>,
          (text, terminator) => {
            expect(typeable(text, layout)).toBe(true);
            const d = decoder(layout);
            expect(texts(run(d, encodeWedge(text, layout, { terminator })))).toEqual([text]);
            expect(d.hasPartial).toBe(false);
          },
        ),
        { numRuns: 500 },
      );
    },
  );
});

const WEDGE_ERRORS: ReadonlySet<WedgeError> = new Set([
  'other-report',
  'short-report',
  'rollover',
  'unmapped-key',
  'too-long',
  'empty',
  'missing-aim',
]);

describe('WedgeDecoder fuzz', () => {
  it('never throws on 100,000 random reports; every failure is typed', () => {
    const decoders = LAYOUT_NAMES.map((l, i) =>
      decoder(l, { aim: i % 2 === 0, terminators: i === 3 ? ['tab'] : ['enter'], maxBytes: 64 }),
    );
    let failures = 0;
    fc.assert(
      fc.property(fc.nat(3), fc.uint8Array({ maxLength: 12 }), fc.boolean(), (i, bytes, flush) => {
        const d = decoders[i] as WedgeDecoder;
        const out = [...d.push(bytes), ...(flush ? d.flush() : [])];
        for (const res of out) {
          if (res.ok) expect(typeof res.value.text).toBe('string');
          else {
            failures++;
            expect(WEDGE_ERRORS.has(res.error)).toBe(true);
          }
        }
      }),
      { numRuns: 100_000 },
    );
    expect(failures).toBeGreaterThan(0);
  });
});
