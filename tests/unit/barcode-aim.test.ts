import { describe, expect, it } from 'vitest';
import {
  AIM_CODES,
  describeAim,
  isEanUpcSymbology,
  isGs1ElementStringSymbology,
  SCAN_SDT,
  scanDataType,
} from '../../src/barcode/aim.js';

describe('scanDataType: AIM → UnifiedPOS ScanDataType (PROTOCOLS §4)', () => {
  const sdt = (aim: string, text: string) => scanDataType(describeAim(aim).symbology, text, aim);

  it.each([
    [']E0', '4006381333931', 104],
    [']E0', '0036000291452', 101],
    [']E0', '04252614', 102],
    [']E4', '96385074', 103],
    [']E3', '400638133393112', 119],
    [']E3', '003600029145212345', 111],
    [']E3', '9638507412', 118],
    [']E1', '12', 501],
    [']E2', '12345', 501],
    [']C0', 'ABC', 110],
    [']C1', '0109506000134352', 120],
    [']C4', '=A1234', 110],
    [']I0', '12345678', 106],
    [']I1', '10012345678902', 133],
    [']A0', 'CODE39', 108],
    [']F0', 'A123B', 107],
    [']G0', 'CODE93', 109],
    [']L0', 'pdf', 201],
    [']e0', '0109506000134352', 131],
    [']e0', '010950600013435217291231', 132],
    [']d1', 'dm', 203],
    [']d2', '0109506000134352', 208],
    [']Q0', 'qr', 204],
    [']Q1', 'https://example.com', 204],
    [']Q3', '0109506000134352', 209],
    [']z0', 'aztec', 206],
    [']J1', '0109506000134352', 501],
    [']X0', 'x', 501],
    [']K0', 'x', 501],
  ])('%s %s → %i', (aim, text, code) => {
    expect(sdt(aim, text)).toBe(code);
  });

  it('is UNKNOWN (0) without a symbology', () => {
    expect(scanDataType('unknown', '4006381333931')).toBe(SCAN_SDT.UNKNOWN);
  });

  it('accepts names other drivers use for what AIM cannot say', () => {
    expect(scanDataType('upc-a', '036000291452')).toBe(SCAN_SDT.UPCA);
    expect(scanDataType('upc-e', '04252614')).toBe(SCAN_SDT.UPCE);
    expect(scanDataType('ean-8', '96385074')).toBe(SCAN_SDT.EAN8);
  });
});

describe('symbology families', () => {
  it('GS1 element-string symbologies are the gs1-* names: ]C1 ]e0 ]d2 ]Q3 ]J1', () => {
    for (const aim of [']C1', ']e0', ']d2', ']Q3', ']J1'])
      expect(isGs1ElementStringSymbology(describeAim(aim).symbology), aim).toBe(true);
    for (const aim of [']C0', ']d1', ']Q1', ']J0', ']E0'])
      expect(isGs1ElementStringSymbology(describeAim(aim).symbology), aim).toBe(false);
  });

  it('EAN/UPC family excludes add-ons alone', () => {
    for (const aim of [']E0', ']E3', ']E4', ']E9'])
      expect(isEanUpcSymbology(describeAim(aim).symbology), aim).toBe(true);
    for (const aim of [']E1', ']E2', ']C0'])
      expect(isEanUpcSymbology(describeAim(aim).symbology), aim).toBe(false);
    expect(isEanUpcSymbology('upc-e')).toBe(true);
  });

  it('every AIM code character in the table has a family name', () => {
    for (const row of AIM_CODES) expect(describeAim(`]${row.code}9`).symbology).toBe(row.name);
  });
});
