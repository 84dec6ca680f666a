import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeScan } from '../../drivers/serial-scanner/decode.js';

const GS = '\x1d';
const latin1 = (s: string) => Buffer.from(s, 'latin1');

describe('decodeScan with aim: true', () => {
  it.each([
    [']E04006381333931', '4006381333931', ']E0', 'ean-13'],
    [']E496385074', '96385074', ']E4', 'ean-8'],
    [']C10109501101530003', '0109501101530003', ']C1', 'gs1-128'],
    [`]d20109501101530003${GS}10ABC`, `0109501101530003${GS}10ABC`, ']d2', 'gs1-datamatrix'],
    [']Q1https://example.com/p/1', 'https://example.com/p/1', ']Q1', 'qr'],
    [`]Q30109501101530003${GS}21XYZ`, `0109501101530003${GS}21XYZ`, ']Q3', 'gs1-qr'],
    [']K0HELLO', 'HELLO', ']K0', 'aim-K'],
  ])('%j → %j (%s, %s)', (frame, text, aim, symbology) => {
    expect(decodeScan(latin1(frame), { aim: true })).toEqual({ ok: true, value: { text, aim, symbology } });
  });

  it('keeps GS1 group separators (0x1D) in the text', () => {
    const r = decodeScan(Buffer.from(`]C1010950110153000310ABC${GS}21XYZ`), { aim: true });
    expect(r.ok && r.value.text).toBe(`010950110153000310ABC${GS}21XYZ`);
    expect(r.ok && [...r.value.text].filter((c) => c === GS)).toHaveLength(1);
  });

  it('reports a frame without an AIM identifier as missing-aim', () => {
    const r = decodeScan(latin1('4006381333931'), { aim: true });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error).toBe('missing-aim');
    expect(r.detail).toBe('"400"');
  });

  it('reports an identifier with nothing after it as empty', () => {
    expect(decodeScan(latin1(']E0'), { aim: true })).toEqual({ ok: false, error: 'empty' });
  });

  it('reports an empty frame as missing-aim', () => {
    const r = decodeScan(Buffer.alloc(0), { aim: true });
    expect(r.ok === false && r.error).toBe('missing-aim');
  });
});

describe('decodeScan with aim: false', () => {
  it('keeps the whole frame, AIM-like prefix included, with symbology unknown', () => {
    expect(decodeScan(latin1(']E04006381333931'), { aim: false })).toEqual({
      ok: true,
      value: { text: ']E04006381333931', symbology: 'unknown' },
    });
  });

  it('reports an empty frame', () => {
    expect(decodeScan(Buffer.alloc(0), { aim: false })).toEqual({ ok: false, error: 'empty' });
  });
});

describe('decodeScan text encoding', () => {
  it('decodes valid UTF-8 as UTF-8 (QR codes)', () => {
    const r = decodeScan(Buffer.from(']Q1Grüße – 東京 🛒', 'utf8'), { aim: true });
    expect(r.ok && r.value.text).toBe('Grüße – 東京 🛒');
  });

  it('decodes bytes that are not valid UTF-8 as Latin-1, so every byte survives', () => {
    // "Müller" in Latin-1: 0xFC alone is not valid UTF-8.
    const bytes = Buffer.from([0x4d, 0xfc, 0x6c, 0x6c, 0x65, 0x72]);
    const r = decodeScan(bytes, { aim: false });
    expect(r.ok && r.value.text).toBe('Müller');
    expect(r.ok && Buffer.from(r.value.text, 'latin1').equals(bytes)).toBe(true);
  });

  it('decodes a whole frame as Latin-1 when any byte is not UTF-8, even after the AIM prefix', () => {
    const bytes = Buffer.concat([Buffer.from(']E0ab'), Buffer.from([0xe9])]);
    const r = decodeScan(bytes, { aim: true });
    expect(r.ok && r.value).toEqual({ text: 'abé', aim: ']E0', symbology: 'ean-13' });
  });
});

describe('decodeScan properties', () => {
  it('never throws, and always returns a result or a typed error', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), (bytes, aim) => {
        const r = decodeScan(Buffer.from(bytes), { aim });
        if (r.ok) expect(r.value.text.length).toBeGreaterThan(0);
        else expect(['missing-aim', 'empty']).toContain(r.error);
      }),
      { numRuns: 500 },
    );
  });

  it('keeps every byte: the text re-encodes to the frame (aim: false)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 300 }), (bytes) => {
        const frame = Buffer.from(bytes);
        // A leading UTF-8 byte order mark is an encoding marker that TextDecoder removes.
        fc.pre(!frame.subarray(0, 3).equals(Buffer.from([0xef, 0xbb, 0xbf])));
        const r = decodeScan(frame, { aim: false });
        expect(r.ok).toBe(true);
        if (!r.ok) return;
        const utf8 = Buffer.from(r.value.text, 'utf8');
        expect(utf8.equals(frame) || Buffer.from(r.value.text, 'latin1').equals(frame)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('keeps any UTF-8 text after an AIM identifier intact', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 50 }), (text) => {
        fc.pre(!text.startsWith('\ufeff'));
        const r = decodeScan(Buffer.from(`]Q1${text}`, 'utf8'), { aim: true });
        expect(r).toEqual({ ok: true, value: { text, aim: ']Q1', symbology: 'qr' } });
      }),
    );
  });
});
