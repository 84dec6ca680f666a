import { describe, expect, it } from 'vitest';
import { describeAim, splitAim } from '../../src/barcode/aim.js';

describe('describeAim', () => {
  it.each([
    [']E0', 'ean-13'],
    [']E1', 'ean-addon-2'],
    [']E2', 'ean-addon-5'],
    [']E3', 'ean-13-addon'],
    [']E4', 'ean-8'],
    [']E9', 'ean'],
    [']C0', 'code-128'],
    [']C1', 'gs1-128'],
    [']C4', 'isbt-128'],
    [']I0', 'itf'],
    [']A0', 'code-39'],
    [']F0', 'codabar'],
    [']G0', 'code-93'],
    [']L0', 'pdf417'],
    [']e0', 'gs1-databar'],
    [']d1', 'datamatrix'],
    [']d2', 'gs1-datamatrix'],
    [']Q0', 'qr-model-1'],
    [']Q1', 'qr'],
    [']Q3', 'gs1-qr'],
    [']z0', 'aztec'],
    [']J0', 'dotcode'],
    [']J1', 'gs1-dotcode'],
    [']X0', 'other'],
  ])('%s is %s', (aim, symbology) => {
    expect(describeAim(aim)).toEqual({ aim, symbology });
  });

  it('names an unknown code character after itself', () => {
    expect(describeAim(']K0')).toEqual({ aim: ']K0', symbology: 'aim-K' });
    expect(describeAim(']q1').symbology).toBe('aim-q');
    expect(describeAim(']70').symbology).toBe('aim-7');
  });

  it('is case-sensitive: ]e is GS1 DataBar, ]E is EAN', () => {
    expect(describeAim(']e0').symbology).not.toBe(describeAim(']E0').symbology);
  });
});

describe('splitAim', () => {
  it('splits the identifier from the content', () => {
    expect(splitAim(']E04006381333931')).toEqual({
      info: { aim: ']E0', symbology: 'ean-13' },
      rest: '4006381333931',
    });
  });

  it('returns an empty rest for an identifier alone', () => {
    expect(splitAim(']Q1')).toEqual({ info: { aim: ']Q1', symbology: 'qr' }, rest: '' });
  });

  it.each(['4006381333931', '', ']', ']E', '[E0123', ' ]E0123', ']-0123', ']E-123'])(
    'returns null for %j',
    (text) => {
      expect(splitAim(text)).toBeNull();
    },
  );
});
