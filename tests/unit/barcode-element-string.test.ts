import { describe, expect, it } from 'vitest';
import { AI_TABLE, identifyAi, isAiCode } from '../../src/barcode/ai-table.js';
import { fullYear } from '../../src/barcode/ai-values.js';
import { encodeElementString, GS, gs1Map, parseElementString } from '../../src/barcode/element-string.js';

/** Reference time of the scans below: 24 Nov 2026. */
const NOW = Date.UTC(2026, 10, 24, 8, 0, 0);
const parse = (text: string) => parseElementString(text, { nowMs: NOW });
const map = (text: string) => {
  const r = parse(text);
  if (!r.ok) throw new Error(`${r.error} ${r.detail ?? ''}`);
  return gs1Map(r.value);
};

describe('parseElementString: the PROTOCOLS examples', () => {
  it(']d2 01095060001343521729123110ABC<GS>21XYZ', () => {
    expect(map(`01095060001343521729123110ABC${GS}21XYZ`)).toEqual({
      '01': { raw: '09506000134352', value: '09506000134352' },
      '17': { raw: '291231', value: '2029-12-31' },
      '10': { raw: 'ABC', value: 'ABC' },
      '21': { raw: 'XYZ', value: 'XYZ' },
    });
  });

  it('3103001250 is 1.250 kg', () => {
    expect(map('3103001250')).toEqual({ '3103': { raw: '001250', value: 1.25, unit: 'kg' } });
  });

  it('keeps the AIs in the order of the string', () => {
    const r = parse(`01095060001343521729123110ABC${GS}21XYZ`);
    expect(r.ok && r.value.map((e) => e.ai)).toEqual(['01', '17', '10', '21']);
  });
});

describe('parseElementString: separators', () => {
  it('tolerates a transmitted leading FNC1 and a trailing GS', () => {
    expect(map(`${GS}0109506000134352`)['01']?.value).toBe('09506000134352');
    expect(map(`10ABC${GS}`)).toEqual({ '10': { raw: 'ABC', value: 'ABC' } });
  });

  it('tolerates a GS after a predefined-length field', () => {
    expect(Object.keys(map(`0109506000134352${GS}17291231`))).toEqual(['17', '01']);
  });

  it('reads a variable field up to the end when it is last', () => {
    expect(map('0109506000134352211234567890')['21']?.raw).toBe('1234567890');
  });

  it('without GS a variable field swallows what follows, up to its maximum length', () => {
    expect(map('10ABC17291231')).toEqual({ '10': { raw: 'ABC17291231', value: 'ABC17291231' } });
    expect(parse(`10ABCDEFGHIJKLMNOPQRSTU${GS}`)).toEqual({ ok: false, error: 'too-long', detail: 'AI 10' });
  });
});

describe('parseElementString: typed values', () => {
  it('dates: YYMMDD, day 00 = last day of the month, leap years', () => {
    expect(map('11260101')['11']?.value).toBe('2026-01-01');
    expect(map('15291200')['15']?.value).toBe('2029-12-31');
    expect(map('17280200')['17']?.value).toBe('2028-02-29');
    expect(map('16270200')['16']?.value).toBe('2027-02-28');
    expect(map('13260430')['13']?.value).toBe('2026-04-30');
  });

  it('dates: century by the ±50-year rule around the scan time', () => {
    expect(map('17751231')['17']?.value).toBe('2075-12-31');
    expect(map('17770101')['17']?.value).toBe('1977-01-01');
    expect(fullYear(0, Date.UTC(2080, 0, 1))).toBe(2100);
    expect(fullYear(30, Date.UTC(2080, 0, 1))).toBe(2130);
    expect(fullYear(29, Date.UTC(2080, 0, 1))).toBe(2029 + 100);
    expect(fullYear(31, Date.UTC(2080, 0, 1))).toBe(2031);
    expect(fullYear(99, Date.UTC(2026, 0, 1))).toBe(1999);
  });

  it.each(['17291301', '17290230', '17290431', '17291232', '17290000'])('%s is an invalid date', (text) => {
    expect(parse(text)).toEqual({ ok: false, error: 'invalid-date', detail: 'AI 17' });
  });

  it('measures: decimals from the last AI digit, unit from the AI', () => {
    expect(map('3100001250')['3100']).toEqual({ raw: '001250', value: 1250, unit: 'kg' });
    expect(map('3105001250')['3105']).toEqual({ raw: '001250', value: 0.0125, unit: 'kg' });
    expect(map('3202012345')['3202']).toEqual({ raw: '012345', value: 123.45, unit: 'lb' });
    expect(map('3151000750')['3151']).toEqual({ raw: '000750', value: 75, unit: 'l' });
    expect(map('3370000123')['3370']).toEqual({ raw: '000123', value: 123, unit: 'kg/m2' });
    expect(map('3573001000')['3573']).toEqual({ raw: '001000', value: 1, unit: 'oz' });
  });

  it('amounts: 392n price with n decimals; 391n/393n with ISO currency', () => {
    expect(map('39221999')['3922']).toEqual({ raw: '1999', value: 19.99 });
    expect(map('39000')['3900']).toEqual({ raw: '0', value: 0 });
    expect(map('39329781999')['3932']).toEqual({ raw: '9781999', value: 19.99, currency: 'EUR' });
    expect(map('39128261234567')['3912']).toEqual({ raw: '8261234567', value: 12345.67, currency: 'GBP' });
    expect(map('3913999123')['3913']).toEqual({ raw: '999123', value: 0.123, currency: '999' });
    expect(map('3929123456789012345')['3929']?.value).toBe(123456.789012345);
  });

  it('counts: 30 and 37 as integers', () => {
    expect(map(`3012${GS}3700000005`)).toEqual({
      '30': { raw: '12', value: 12 },
      '37': { raw: '00000005', value: 5 },
    });
  });

  it('8008: date and time of production, minutes and seconds optional', () => {
    expect(map('80082912311530')['8008']?.value).toBe('2029-12-31T15:30:00');
    expect(map('8008291231153045')['8008']?.value).toBe('2029-12-31T15:30:45');
    expect(map('800829123115')['8008']?.value).toBe('2029-12-31T15:00:00');
    expect(parse('8008291231246000')).toEqual({ ok: false, error: 'invalid-date', detail: 'AI 8008' });
    expect(parse('8008291231153')).toEqual({ ok: false, error: 'invalid-date', detail: 'AI 8008' });
    expect(parse('80082912311')).toEqual({ ok: false, error: 'truncated', detail: 'AI 8008' });
  });

  it('SSCC, GTIN and content GTIN are check-digit verified', () => {
    expect(map('00106141411234567897')['00']?.value).toBe('106141411234567897');
    expect(map('0209506000134352')['02']?.value).toBe('09506000134352');
    expect(parse('0109506000134353')).toEqual({ ok: false, error: 'check-digit', detail: 'AI 01' });
    expect(parse('00106141411234567890')).toEqual({ ok: false, error: 'check-digit', detail: 'AI 00' });
  });

  it('20 (variant) keeps its leading zero', () => {
    expect(map('2001')['20']).toEqual({ raw: '01', value: '01' });
  });
});

describe('parseElementString: AIs outside the table', () => {
  it('are cut out by the GS1 length rules and kept raw', () => {
    expect(map(`0109506000134352240ART-42${GS}10L1`)).toEqual({
      '01': { raw: '09506000134352', value: '09506000134352' },
      '240': { raw: 'ART-42', value: 'ART-42' },
      '10': { raw: 'L1', value: 'L1' },
    });
    expect(map('4101234567890128')['410']?.raw).toBe('1234567890128');
    expect(map('91internal')['91']?.raw).toBe('internal');
  });
});

describe('parseElementString: errors are typed results', () => {
  it.each([
    ['', 'empty'],
    [GS, 'empty'],
    ['05123', 'unknown-ai'],
    ['ABC', 'unknown-ai'],
    ['0109506000134352ZZ', 'unknown-ai'],
    ['01095060001343', 'truncated'],
    [`010950600013${GS}4352`, 'truncated'],
    ['10', 'truncated'],
    [`10${GS}21X`, 'truncated'],
    ['3103ABCDEF', 'not-numeric'],
    ['30ABC', 'not-numeric'],
    ['10AB C', 'bad-character'],
    ['10ABé', 'bad-character'],
    [`10A${GS}10B`, 'duplicate-ai'],
  ])('%j → %s', (text, error) => {
    const r = parse(text);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error).toBe(error);
  });

  it('reads a long string of many distinct AIs', () => {
    const codes = ['70', '72', '80', '81', '82']
      .flatMap((p) => Array.from({ length: 100 }, (_, i) => `${p}${String(i).padStart(2, '0')}`))
      .filter((ai) => ai !== '8008');
    const r = parse(codes.map((ai) => `${ai}X`).join(GS));
    expect(r.ok && r.value.map((e) => e.ai)).toEqual(codes);
  });

  it('the same AI twice with the same value is accepted once', () => {
    expect(map(`10A${GS}10A`)).toEqual({ '10': { raw: 'A', value: 'A' } });
  });
});

describe('encodeElementString', () => {
  it('puts GS only after variable-length fields that are not last', () => {
    const text = `01095060001343521729123110ABC${GS}21XYZ`;
    const r = parse(text);
    expect(r.ok && encodeElementString(r.value)).toBe(text);
    expect(
      encodeElementString([
        { ai: '10', raw: 'A' },
        { ai: '3103', raw: '001250' },
        { ai: '21', raw: 'S' },
      ]),
    ).toBe(`10A${GS}310300125021S`);
  });
});

describe('the AI table', () => {
  it('holds every AI the issue names', () => {
    const required = ['00', '01', '02', '10', '11', '13', '15', '16', '17', '20', '21', '30', '37', '8008'];
    for (let p = 310; p <= 316; p++) for (let n = 0; n <= 5; n++) required.push(`${p}${n}`);
    for (let p = 320; p <= 357; p++) {
      if (p === 338 || p === 339) continue;
      for (let n = 0; n <= 5; n++) required.push(`${p}${n}`);
    }
    for (let p = 390; p <= 393; p++) for (let n = 0; n <= 9; n++) required.push(`${p}${n}`);
    for (const ai of required) expect(AI_TABLE.has(ai), ai).toBe(true);
  });

  it('identifies AIs by their prefix length rules', () => {
    expect(identifyAi('3103001250', 0)?.ai).toBe('3103');
    expect(identifyAi('8008', 0)?.ai).toBe('8008');
    expect(identifyAi('x10', 1)?.ai).toBe('10');
    expect(identifyAi('05', 0)).toBeNull();
    expect(identifyAi('3', 0)).toBeNull();
    expect(isAiCode('17')).toBe(true);
    expect(isAiCode('3103')).toBe(true);
    expect(isAiCode('310')).toBe(false);
    expect(isAiCode('linkType')).toBe(false);
  });
});
