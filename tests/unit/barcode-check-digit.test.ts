import { describe, expect, it } from 'vitest';
import { gs1CheckDigit, hasValidCheckDigit, priceCheckDigit } from '../../src/barcode/check-digit.js';
import { expandUpcE, normaliseGtin } from '../../src/barcode/gtin.js';

describe('gs1CheckDigit (PROTOCOLS §3)', () => {
  it('gives the examples of the GS1 General Specifications', () => {
    expect(gs1CheckDigit('950110153100')).toBe(0);
    expect(gs1CheckDigit('9501234')).toBe(6);
  });

  it('covers GTIN-12, GTIN-14 and SSCC', () => {
    expect(gs1CheckDigit('03600029145')).toBe(2);
    expect(gs1CheckDigit('1950110153000')).toBe(0);
    expect(gs1CheckDigit('10614141123456789')).toBe(7);
  });

  it('hasValidCheckDigit accepts the right digit and nothing else', () => {
    expect(hasValidCheckDigit('9501101531000')).toBe(true);
    for (let d = 1; d <= 9; d++) expect(hasValidCheckDigit(`950110153100${d}`)).toBe(false);
    expect(hasValidCheckDigit('95012346')).toBe(true);
    expect(hasValidCheckDigit('9501234x')).toBe(false);
    expect(hasValidCheckDigit('6')).toBe(false);
    expect(hasValidCheckDigit('')).toBe(false);
  });
});

describe('priceCheckDigit (§7.9.3, §7.9.4)', () => {
  it('gives the GS1 examples for 4- and 5-digit values', () => {
    expect(priceCheckDigit('2875')).toBe(9);
    expect(priceCheckDigit('14685')).toBe(6);
  });

  it('is 0 for a zeroed value, as the item key needs', () => {
    expect(priceCheckDigit('0000')).toBe(0);
    expect(priceCheckDigit('00000')).toBe(0);
  });

  it.each(['', '123', '123456', '12a4', ' 1234'])('is null for %j', (v) => {
    expect(priceCheckDigit(v)).toBeNull();
  });

  it('detects every single-digit error in a 4- and a 5-digit value', () => {
    for (const value of ['2875', '14685', '0599', '01250']) {
      const check = priceCheckDigit(value);
      for (let pos = 0; pos < value.length; pos++) {
        for (let d = 0; d <= 9; d++) {
          if (String(d) === value[pos]) continue;
          const changed = `${value.slice(0, pos)}${d}${value.slice(pos + 1)}`;
          expect(priceCheckDigit(changed), changed).not.toBe(check);
        }
      }
    }
  });
});

describe('normaliseGtin', () => {
  it.each([
    ['9501101531000', '09501101531000'],
    ['95012346', '00000095012346'],
    ['036000291452', '00036000291452'],
    ['4006381333931', '04006381333931'],
    ['19501101530000', '19501101530000'],
  ])('%s → %s', (code, gtin14) => {
    expect(normaliseGtin(code)).toEqual({ ok: true, value: gtin14 });
  });

  it('reports a wrong check digit, a wrong length and non-digits', () => {
    expect(normaliseGtin('9501101531001')).toEqual({ ok: false, error: 'check-digit' });
    expect(normaliseGtin('950110153106')).toEqual({ ok: true, value: '00950110153106' });
    expect(normaliseGtin('95011015310')).toEqual({ ok: false, error: 'length', detail: '11 digits' });
    expect(normaliseGtin('950110153100000')).toEqual({ ok: false, error: 'length', detail: '15 digits' });
    expect(normaliseGtin('95O1101531000')).toEqual({ ok: false, error: 'not-numeric' });
    expect(normaliseGtin('')).toEqual({ ok: false, error: 'not-numeric' });
  });
});

describe('expandUpcE', () => {
  it.each([
    ['04252614', '042100005264'],
    ['01234505', '012000003455'],
    ['01234531', '012300000451'],
    ['01234543', '012340000053'],
    ['01234558', '012345000058'],
  ])('%s → %s', (upcE, upcA) => {
    expect(expandUpcE(upcE)).toBe(upcA);
  });

  it('expanded codes carry a valid UPC-A check digit', () => {
    expect(hasValidCheckDigit(expandUpcE('04252614') as string)).toBe(true);
  });

  it.each(['24252614', '0425261', '042526140', 'abcdefgh'])('is null for %j', (code) => {
    expect(expandUpcE(code)).toBeNull();
  });
});
