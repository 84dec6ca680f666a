import { describe, expect, it } from 'vitest';
import {
  decodeVariableMeasure,
  isUsablePattern,
  PRESET_NAMES,
  resolveSchemes,
  type VariableMeasureScheme,
} from '../../src/barcode/variable-measure.js';
import { validateConfig } from '../../src/config/load.js';

const preset = (...names: string[]) => resolveSchemes(names);

describe('decodeVariableMeasure: the built-in national schemes', () => {
  it('Sweden 20: PPPPPPPPVVVV price, 2 decimals', () => {
    expect(decodeVariableMeasure('2012345612501', preset('se-20'))).toEqual({
      ok: true,
      value: {
        scheme: 'se-20',
        measure: 'price',
        itemKey: '2012345600003',
        value: 12.5,
        raw: '1250',
        unit: 'SEK',
      },
    });
  });

  it('Sweden 23: PPPPPPPPVVVV weight, 3 decimals (kg)', () => {
    expect(decodeVariableMeasure('2312345612502', preset('se-20', 'se-23'))).toEqual({
      ok: true,
      value: {
        scheme: 'se-23',
        measure: 'weight',
        itemKey: '2312345600004',
        value: 1.25,
        raw: '1250',
        unit: 'kg',
      },
    });
  });

  it('Germany 28: PPPPPPCVVVVV weight with a 5-digit price check digit', () => {
    expect(decodeVariableMeasure('2812347012503', preset('de-28'))).toEqual({
      ok: true,
      value: {
        scheme: 'de-28',
        measure: 'weight',
        itemKey: '2812340000002',
        value: 1.25,
        raw: '01250',
        unit: 'kg',
      },
    });
  });

  it('UK 20: PPPPPPPCVVVV price with a 4-digit price check digit', () => {
    expect(decodeVariableMeasure('2012345105997', preset('uk-20'))).toEqual({
      ok: true,
      value: {
        scheme: 'uk-20',
        measure: 'price',
        itemKey: '2012345000001',
        value: 5.99,
        raw: '0599',
        unit: 'GBP',
      },
    });
  });

  it('US UPC-A "2" random weight (as EAN-13 02…): 2 IIIII C VVVV, price in cents', () => {
    expect(decodeVariableMeasure('0212345105993', preset('us-upc-2'))).toEqual({
      ok: true,
      value: {
        scheme: 'us-upc-2',
        measure: 'price',
        itemKey: '0212345000007',
        value: 5.99,
        raw: '0599',
        unit: 'USD',
      },
    });
  });

  it('a wrong price check digit is an error naming the scheme', () => {
    expect(decodeVariableMeasure('2812346012504', preset('de-28'))).toEqual({
      ok: false,
      error: 'price-check-digit',
      detail: 'de-28',
    });
    expect(decodeVariableMeasure('2012345205997', preset('uk-20'))).toMatchObject({ ok: false });
  });

  it('no scheme for the prefix, or no schemes at all: ok(null)', () => {
    expect(decodeVariableMeasure('2012345612501', [])).toEqual({ ok: true, value: null });
    expect(decodeVariableMeasure('4006381333931', preset('se-20', 'de-28'))).toEqual({
      ok: true,
      value: null,
    });
    expect(decodeVariableMeasure('201234561250', preset('se-20'))).toEqual({ ok: true, value: null });
  });

  it('the first matching scheme wins, custom schemes before presets', () => {
    expect(decodeVariableMeasure('2012345612501', preset('se-20', 'uk-20'))).toMatchObject({
      ok: true,
      value: { scheme: 'se-20' },
    });
    const custom: VariableMeasureScheme = {
      name: 'shop-20',
      prefix: '20',
      pattern: 'PPPPPPVVVVVV',
      measure: 'count',
      decimals: 0,
      unit: 'pcs',
    };
    expect(resolveSchemes(['se-20'], [custom]).map((s) => s.name)).toEqual(['shop-20', 'se-20']);
    expect(decodeVariableMeasure('2012345612501', resolveSchemes(['se-20'], [custom]))).toMatchObject({
      ok: true,
      value: { scheme: 'shop-20', measure: 'count', value: 561250, itemKey: '2012340000006' },
    });
  });

  it('ignores unknown preset names and unusable patterns', () => {
    expect(resolveSchemes(['xx-99', 'se-23']).map((s) => s.name)).toEqual(['se-23']);
    expect(isUsablePattern('20', 'PPPPPPPPVVVV')).toBe(true);
    expect(isUsablePattern('20', 'PPPPPPCVVVVV')).toBe(true);
    expect(isUsablePattern('20', 'PPPPPCVVVVVV')).toBe(false);
    expect(isUsablePattern('20', 'VVPPPPPPPPPP')).toBe(false);
    expect(isUsablePattern('20', 'PPPPPPPPVVV')).toBe(false);
  });
});

describe('barcode config section', () => {
  const base = { store: { id: 's' }, gateway: { id: 'g' } };

  it('is optional and defaults to no schemes', () => {
    const r = validateConfig(base);
    expect(r.ok && r.config.barcode).toEqual({ variableMeasure: [], customSchemes: [] });
  });

  it('accepts preset names and custom schemes', () => {
    const r = validateConfig({
      ...base,
      barcode: {
        variableMeasure: PRESET_NAMES,
        customSchemes: [
          {
            name: 'shop-24',
            prefix: '24',
            pattern: 'PPPPPPPPVVVV',
            measure: 'weight',
            decimals: 2,
            unit: 'kg',
          },
        ],
      },
    });
    expect(r.ok).toBe(true);
  });

  it('lists unknown presets and unusable patterns by path', () => {
    const r = validateConfig({
      ...base,
      barcode: {
        variableMeasure: ['se-20', 'mars-20'],
        customSchemes: [
          { name: 'x', prefix: '2', pattern: 'PPPPPCVVVVVV', measure: 'price', decimals: 2, unit: 'EUR' },
        ],
      },
    });
    expect(r.ok).toBe(false);
    const paths = r.ok ? [] : r.issues.map((i) => i.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        '/barcode/variableMeasure/1',
        '/barcode/customSchemes/0/prefix',
        '/barcode/customSchemes/0/pattern',
      ]),
    );
  });
});
