import { describe, expect, it } from 'vitest';
import { interpretScan } from '../../src/barcode/interpret.js';
import { resolveSchemes } from '../../src/barcode/variable-measure.js';
import { EventFactory } from '../../src/events/envelope.js';
import { enrichScanData } from '../../src/pipeline/scan-enrich.js';

const NOW = Date.UTC(2026, 10, 24);
const GS = '\u001d';
const schemes = resolveSchemes(['se-20', 'se-23', 'us-upc-2']);
const interpret = (text: string, aim?: string, symbology = 'unknown') =>
  interpretScan({ text, aim, symbology }, { schemes, nowMs: NOW });
const factory = new EventFactory({ storeId: '0421', gatewayId: 'gw-1' });

/** Scan data with what the gateway derives, checked against the published event schema. */
function enriched(text: string, aim: string | undefined, symbology: string) {
  const data = enrichScanData(
    { deviceId: 'lane-1', text, ...(aim ? { aim } : {}), symbology },
    { schemes, nowMs: NOW },
  );
  factory.create('retail.scan.v1', 'lane-1', data, NOW);
  return data;
}

describe('interpretScan: EAN/UPC', () => {
  it('EAN-13 → GTIN-14, valid, ScanDataType EAN13', () => {
    expect(enriched('4006381333931', ']E0', 'ean-13')).toEqual({
      deviceId: 'lane-1',
      text: '4006381333931',
      aim: ']E0',
      symbology: 'ean-13',
      scanDataType: 104,
      gtin: '04006381333931',
      valid: true,
    });
  });

  it('UPC-A in EAN-13 form, UPC-E expanded, EAN-8', () => {
    expect(interpret('0036000291452', ']E0', 'ean-13')).toEqual({
      scanDataType: 101,
      gtin: '00036000291452',
      valid: true,
    });
    expect(interpret('04252614', ']E0', 'ean-13')).toEqual({
      scanDataType: 102,
      gtin: '00042100005264',
      valid: true,
    });
    expect(interpret('96385074', ']E4', 'ean-8')).toEqual({
      scanDataType: 103,
      gtin: '00000096385074',
      valid: true,
    });
  });

  it('a wrong check digit: valid false with a reason, no gtin, never dropped', () => {
    expect(enriched('4006381333932', ']E0', 'ean-13')).toEqual({
      deviceId: 'lane-1',
      text: '4006381333932',
      aim: ']E0',
      symbology: 'ean-13',
      scanDataType: 104,
      valid: false,
      reason: 'check-digit',
    });
  });

  it('malformed EAN content', () => {
    expect(interpret('40063813339', ']E0', 'ean-13')).toMatchObject({ valid: false, reason: 'length' });
    expect(interpret('40063813339X1', ']E0', 'ean-13')).toMatchObject({
      valid: false,
      reason: 'not-numeric',
    });
  });

  it('EAN-13 with add-on: the GTIN comes from the main code', () => {
    expect(interpret('400638133393112', ']E3', 'ean-13-addon')).toEqual({
      scanDataType: 119,
      gtin: '04006381333931',
      valid: true,
    });
    expect(interpret('40063813339311', ']E3', 'ean-13-addon')).toMatchObject({
      valid: false,
      reason: 'length',
    });
  });

  it('ITF-14 → GTIN-14', () => {
    expect(interpret('19501101530000', ']I1', 'itf')).toEqual({
      scanDataType: 133,
      gtin: '19501101530000',
      valid: true,
    });
  });
});

describe('interpretScan: variable measure', () => {
  it('Sweden 20 price code → item key as gtin, value and unit', () => {
    expect(enriched('2012345612501', ']E0', 'ean-13')).toMatchObject({
      gtin: '02012345600003',
      variableMeasure: {
        scheme: 'se-20',
        measure: 'price',
        itemKey: '2012345600003',
        value: 12.5,
        unit: 'SEK',
      },
      valid: true,
    });
  });

  it('US UPC-A "2" random weight', () => {
    expect(interpret('0212345105993', ']E0', 'ean-13')).toMatchObject({
      scanDataType: 101,
      gtin: '00212345000007',
      variableMeasure: { scheme: 'us-upc-2', value: 5.99, unit: 'USD', raw: '0599' },
    });
  });

  it('a wrong price check digit: valid false, reason price-check-digit', () => {
    expect(interpret('0212345205990', ']E0', 'ean-13')).toEqual({
      scanDataType: 101,
      gtin: '00212345205990',
      valid: false,
      reason: 'price-check-digit',
      detail: 'us-upc-2',
    });
  });

  it('without a configured scheme a 2x code is a plain GTIN', () => {
    expect(
      interpretScan({ text: '2012345612501', symbology: 'ean-13' }, { schemes: [], nowMs: NOW }),
    ).toEqual({
      scanDataType: 104,
      gtin: '02012345612501',
      valid: true,
    });
  });
});

describe('interpretScan: GS1 element strings and Digital Link', () => {
  it('GS1-128 → gs1 by AI and gtin', () => {
    expect(enriched(`01095060001343521729123110ABC123`, ']C1', 'gs1-128')).toEqual({
      deviceId: 'lane-1',
      text: '01095060001343521729123110ABC123',
      aim: ']C1',
      symbology: 'gs1-128',
      scanDataType: 120,
      gtin: '09506000134352',
      gs1: {
        '01': { raw: '09506000134352', value: '09506000134352' },
        '17': { raw: '291231', value: '2029-12-31' },
        '10': { raw: 'ABC123', value: 'ABC123' },
      },
      valid: true,
    });
  });

  it('GS1 DataMatrix, DataBar, QR and DotCode', () => {
    const text = `01095060001343521729123110ABC${GS}21XYZ`;
    for (const [aim, symbology, sdt] of [
      [']d2', 'gs1-datamatrix', 208],
      [']e0', 'gs1-databar', 132],
      [']Q3', 'gs1-qr', 209],
      [']J1', 'gs1-dotcode', 501],
    ] as const) {
      const r = interpret(text, aim, symbology);
      expect(r.scanDataType, aim).toBe(sdt);
      expect(r.gtin, aim).toBe('09506000134352');
      expect(Object.keys(r.gs1 ?? {}).sort(), aim).toEqual(['01', '10', '17', '21']);
    }
  });

  it('an element string without 01 has gs1 but no gtin', () => {
    expect(interpret('00106141411234567897', ']C1', 'gs1-128')).toEqual({
      scanDataType: 120,
      gs1: { '00': { raw: '106141411234567897', value: '106141411234567897' } },
      valid: true,
    });
  });

  it('a malformed element string: valid false with reason and where', () => {
    expect(enriched('0109506000134353', ']C1', 'gs1-128')).toMatchObject({
      valid: false,
      reason: 'check-digit',
      detail: 'AI 01',
    });
    expect(interpret('10ABC17', ']d2', 'gs1-datamatrix')).toEqual({
      scanDataType: 208,
      gs1: { '10': { raw: 'ABC17', value: 'ABC17' } },
      valid: true,
    });
    expect(interpret('99', ']C1', 'gs1-128')).toMatchObject({ valid: false, reason: 'truncated' });
  });

  it('Digital Link QR → gs1 and gtin', () => {
    expect(
      enriched('https://id.gs1.org/01/09506000134352/10/ABC/21/XYZ?17=291231&3103=000195', ']Q1', 'qr'),
    ).toMatchObject({
      scanDataType: 204,
      gtin: '09506000134352',
      gs1: { '3103': { value: 0.195, unit: 'kg' }, '17': { value: '2029-12-31' } },
      valid: true,
    });
  });

  it('a plain URL is left alone; a broken Digital Link is flagged', () => {
    expect(interpret('https://example.com/offers', ']Q1', 'qr')).toEqual({ scanDataType: 204 });
    expect(interpret('https://id.gs1.org/01/09506000134353', ']Q1', 'qr')).toMatchObject({
      valid: false,
      reason: 'check-digit',
    });
  });

  it('non-GS1 symbologies get only their ScanDataType', () => {
    expect(interpret('4006381333931', ']C0', 'code-128')).toEqual({ scanDataType: 110 });
    expect(interpret('HELLO', ']A0', 'code-39')).toEqual({ scanDataType: 108 });
  });
});

describe('interpretScan: scanners without AIM identifiers', () => {
  it('numeric content with a right GTIN check digit is a GTIN', () => {
    expect(interpret('4006381333931')).toEqual({ scanDataType: 0, gtin: '04006381333931', valid: true });
    expect(interpret('2312345612502')).toMatchObject({ variableMeasure: { scheme: 'se-23', value: 1.25 } });
  });

  it('numeric content with a wrong check digit may be no GTIN at all: left alone', () => {
    expect(interpret('4006381333932')).toEqual({ scanDataType: 0 });
    expect(interpret('1234567')).toEqual({ scanDataType: 0 });
  });

  it('a whole valid element string starting with a key is read', () => {
    expect(interpret(`0109506000134352${GS}10ABC`)).toMatchObject({ gtin: '09506000134352', valid: true });
    expect(interpret('0109506000134352ZZ')).toEqual({ scanDataType: 0 });
  });

  it('Digital Link URIs are read whatever the symbology', () => {
    expect(interpret('https://id.gs1.org/01/09506000134352')).toMatchObject({ gtin: '09506000134352' });
  });
});

describe('enrichScanData', () => {
  it('keeps every field the driver set', () => {
    const data = enriched('ABC', ']C0', 'code-128');
    expect(data).toEqual({
      deviceId: 'lane-1',
      text: 'ABC',
      aim: ']C0',
      symbology: 'code-128',
      scanDataType: 110,
    });
  });
});
