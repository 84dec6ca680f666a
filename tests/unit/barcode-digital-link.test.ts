import { describe, expect, it } from 'vitest';
import { encodeDigitalLink, isHttpUri, parseDigitalLink } from '../../src/barcode/digital-link.js';
import { gs1Map } from '../../src/barcode/element-string.js';

const NOW = Date.UTC(2026, 10, 24);
const parse = (uri: string) => parseDigitalLink(uri, { nowMs: NOW });
const map = (uri: string) => {
  const r = parse(uri);
  if (!r.ok) throw new Error(`${r.error} ${r.detail ?? ''}`);
  return gs1Map(r.value);
};

describe('parseDigitalLink', () => {
  it('reads the PROTOCOLS example: key and qualifiers in the path, AIs in the query', () => {
    expect(map('https://id.gs1.org/01/09506000134352/10/ABC/21/XYZ?17=291231&3103=000195')).toEqual({
      '01': { raw: '09506000134352', value: '09506000134352' },
      '10': { raw: 'ABC', value: 'ABC' },
      '21': { raw: 'XYZ', value: 'XYZ' },
      '17': { raw: '291231', value: '2029-12-31' },
      '3103': { raw: '000195', value: 0.195, unit: 'kg' },
    });
  });

  it('accepts any host and path prefix, http or https, any case of the scheme', () => {
    for (const uri of [
      'https://example.com/01/09506000134352',
      'http://shop.example.com/products/p/01/09506000134352/',
      'HTTPS://EXAMPLE.COM/a/b/c/01/09506000134352',
      'https://example.com:8443/dl/01/09506000134352#top',
    ]) {
      expect(map(uri)['01']?.value, uri).toBe('09506000134352');
    }
  });

  it('pads GTIN-8, -12 and -13 in the path to 14 digits', () => {
    expect(map('https://id.gs1.org/01/9506000134352')['01']?.value).toBe('09506000134352');
    expect(map('https://id.gs1.org/01/036000291452')['01']?.value).toBe('00036000291452');
    expect(map('https://id.gs1.org/01/95012346')['01']?.value).toBe('00000095012346');
  });

  it('ignores query parameters that are not AIs', () => {
    expect(map('https://id.gs1.org/01/09506000134352?linkType=gs1:pip&utm_source=qr&x&17=291231')).toEqual({
      '01': { raw: '09506000134352', value: '09506000134352' },
      '17': { raw: '291231', value: '2029-12-31' },
    });
  });

  it('reads qualifier 22 and decodes percent-encoded values', () => {
    expect(map('https://id.gs1.org/01/09506000134352/22/2A/10/A%2FB%25C/21/%21%22')).toMatchObject({
      '22': { raw: '2A' },
      '10': { raw: 'A/B%C' },
      '21': { raw: '!"' },
    });
  });

  it('reads an SSCC key', () => {
    expect(map('https://example.com/00/106141411234567897')).toEqual({
      '00': { raw: '106141411234567897', value: '106141411234567897' },
    });
  });

  it('is not-digital-link for URLs without a GS1 key path', () => {
    for (const uri of [
      'https://example.com/',
      'https://example.com/promo?01=09506000134352',
      'https://example.com/01/intro',
      'https://example.com/01/09506000134352/21/X/10/Y',
      'https://example.com/01/09506000134352/10',
      'https://example.com/01/09506000134352/17/291231',
      'ftp://example.com/01/09506000134352',
      'not a uri',
    ]) {
      expect(parse(uri), uri).toEqual({ ok: false, error: 'not-digital-link' });
    }
  });

  it('reports a wrong check digit, a bad value and bad percent-encoding', () => {
    expect(parse('https://id.gs1.org/01/09506000134353')).toEqual({
      ok: false,
      error: 'check-digit',
      detail: 'AI 01',
    });
    expect(parse('https://id.gs1.org/01/09506000134352?17=291331')).toEqual({
      ok: false,
      error: 'invalid-date',
      detail: 'AI 17',
    });
    expect(parse('https://id.gs1.org/01/09506000134352/10/A%ZZ')).toEqual({
      ok: false,
      error: 'bad-encoding',
      detail: 'AI 10',
    });
    expect(parse('https://id.gs1.org/01/09506000134352/10/ABC?10=XYZ')).toEqual({
      ok: false,
      error: 'duplicate-ai',
      detail: 'AI 10',
    });
    expect(parse('https://id.gs1.org/01/09506000134352?3103=12')).toEqual({
      ok: false,
      error: 'truncated',
      detail: 'AI 3103',
    });
  });

  it('isHttpUri', () => {
    expect(isHttpUri('https://x')).toBe(true);
    expect(isHttpUri('HTTP://x')).toBe(true);
    expect(isHttpUri('ftp://x')).toBe(false);
    expect(isHttpUri('4006381333931')).toBe(false);
  });
});

describe('encodeDigitalLink', () => {
  it('puts the key and qualifiers in the path in order, the rest in the query', () => {
    expect(
      encodeDigitalLink([
        { ai: '01', raw: '09506000134352' },
        { ai: '17', raw: '291231' },
        { ai: '21', raw: 'XYZ' },
        { ai: '10', raw: 'ABC' },
        { ai: '3103', raw: '000195' },
      ]),
    ).toBe('https://id.gs1.org/01/09506000134352/10/ABC/21/XYZ?17=291231&3103=000195');
  });

  it('encodes reserved characters and uses the given base', () => {
    expect(
      encodeDigitalLink(
        [
          { ai: '01', raw: '09506000134352' },
          { ai: '10', raw: 'A/B?&=' },
        ],
        'https://example.com/dl',
      ),
    ).toBe('https://example.com/dl/01/09506000134352/10/A%2FB%3F%26%3D');
  });

  it('is null without a key', () => {
    expect(encodeDigitalLink([{ ai: '10', raw: 'A' }])).toBeNull();
  });
});
