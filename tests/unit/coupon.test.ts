import { describe, expect, it } from 'vitest';
import {
  type Coupon8110,
  decodeCoupon8110,
  decodeCoupon8112,
  decodeUpcCoupon,
  encodeCoupon8110,
  encodeCoupon8112,
} from '../../src/barcode/coupon.js';
import { parseElementString } from '../../src/barcode/element-string.js';
import { interpretScan } from '../../src/barcode/interpret.js';

/** Scans in 2026: two-digit years 00–75 are 2000–2075. */
const NOW = Date.UTC(2026, 10, 24, 8, 0, 0);
const d8110 = (raw: string) => decodeCoupon8110(raw, { nowMs: NOW });

describe('AI (8110): the examples of the North American Coupon Application Guideline R2.0', () => {
  // The guideline's examples, as GS1's own linter (gs1-syntax-dictionary lint_couponcode.c) lists
  // them among its passing cases; each is decoded field by field here from the layout.
  it('10614141011111275110111: 75¢ off one item of family 111', () => {
    expect(d8110('10614141011111275110111')).toEqual({
      ok: true,
      value: {
        format: 'gs1-8110',
        companyPrefix: '0614141',
        offerCode: '011111',
        saveValue: 75,
        primaryPurchase: { requirement: 1, requirementCode: 0, familyCode: '111' },
      },
    });
  });

  it('106141416543213500110000310123196000: $5.00, expires 2010-12-31, save value code 6', () => {
    expect(d8110('106141416543213500110000310123196000')).toEqual({
      ok: true,
      value: {
        format: 'gs1-8110',
        companyPrefix: '0614141',
        offerCode: '654321',
        saveValue: 500,
        primaryPurchase: { requirement: 1, requirementCode: 0, familyCode: '000' },
        expirationDate: '2010-12-31',
        saveValueCode: 6,
        saveValueAppliesTo: 0,
        storeCouponFlag: 0,
        dontMultiply: false,
      },
    });
  });

  it('106141410222223100110222111101231023456721104561045678991201: three purchases, all optional groups 1, 2, 9', () => {
    expect(d8110('106141410222223100110222111101231023456721104561045678991201')).toEqual({
      ok: true,
      value: {
        format: 'gs1-8110',
        companyPrefix: '0614141',
        offerCode: '022222',
        saveValue: 100,
        primaryPurchase: { requirement: 1, requirementCode: 0, familyCode: '222' },
        secondPurchase: { requirement: 1, requirementCode: 0, familyCode: '123', companyPrefix: '0234567' },
        thirdPurchase: { requirement: 1, requirementCode: 0, familyCode: '456', companyPrefix: '0456789' },
        additionalPurchaseRules: 1,
        saveValueCode: 1,
        saveValueAppliesTo: 2,
        storeCouponFlag: 0,
        dontMultiply: true,
      },
    });
  });

  it('106141410012342501106501013085093101231: a second purchase with the primary company prefix (VLI 9)', () => {
    const r = d8110('106141410012342501106501013085093101231');
    expect(r.ok && r.value).toMatchObject({
      offerCode: '001234',
      saveValue: 50,
      additionalPurchaseRules: 0,
      primaryPurchase: { requirement: 1, requirementCode: 0, familyCode: '650' },
      secondPurchase: { requirement: 3, requirementCode: 0, familyCode: '850' },
      expirationDate: '2010-12-31',
    });
    expect(r.ok && 'companyPrefix' in (r.value.secondPurchase ?? {})).toBe(false);
  });

  it('decodes every other example of the guideline without an error', () => {
    for (const raw of [
      '1061414165432131501101201211014092110256100126663101231',
      '106141410012471011076011110850921108609310123191000',
      '106141411234562891101201212085010048000214025610048000310123191000',
      '1061414154321031501101201211014092110256100126663101231',
    ]) {
      const r = d8110(raw);
      expect(r.ok, raw).toBe(true);
      if (r.ok) expect(d8110(encodeCoupon8110(r.value)), raw).toEqual(r);
    }
    const serial = d8110('106141411234562891101201212085010048000214025610048000310123191000');
    // 1 0614141 123456 2 89 1 1 0 120 | 1 2 1 2 0 850 1 0048000 | 2 1 4 0 256 1 0048000 | 3 101231 | 9 1 0 0 0
    expect(serial.ok && serial.value).toMatchObject({
      saveValue: 89,
      additionalPurchaseRules: 2,
      primaryPurchase: { requirement: 1, requirementCode: 0, familyCode: '120' },
      secondPurchase: { requirement: 2, requirementCode: 0, familyCode: '850', companyPrefix: '0048000' },
      thirdPurchase: { requirement: 4, requirementCode: 0, familyCode: '256', companyPrefix: '0048000' },
      expirationDate: '2010-12-31',
      saveValueCode: 1,
    });
  });

  it('the published encoder examples (databar-barcode.info) decode to their tables', () => {
    // Example 1: save $2.50 on any one item, expires Jan 31, 2014.
    expect(d8110('1061414165432132501101203140131')).toEqual({
      ok: true,
      value: {
        format: 'gs1-8110',
        companyPrefix: '0614141',
        offerCode: '654321',
        saveValue: 250,
        primaryPurchase: { requirement: 1, requirementCode: 0, familyCode: '120' },
        expirationDate: '2014-01-31',
      },
    });
    // Example 2: save $0.75 on one bundle pack (family 650) or 3 boxes (family 850).
    const ex2 = d8110('106141411234562751106501013085093140131');
    expect(ex2.ok && ex2.value).toMatchObject({
      offerCode: '123456',
      saveValue: 75,
      additionalPurchaseRules: 0,
      primaryPurchase: { requirement: 1, familyCode: '650' },
      secondPurchase: { requirement: 3, familyCode: '850' },
      expirationDate: '2014-01-31',
    });
  });
});

describe('AI (8110): field by field, from the layout', () => {
  const base = '0123456123456111101234'; // GCP VLI 0, offer, SV "1", PPR "1", code 0, family 123 … then field 4

  it('primary company prefix: VLI 0–6 means 6–12 digits; 7–9 are refused', () => {
    for (let v = 0; v <= 6; v++) {
      const gcp = '123456789012'.slice(0, 6 + v);
      const r = d8110(`${v}${gcp}12345611110123`);
      expect(r.ok && r.value.companyPrefix, String(v)).toBe(gcp);
    }
    expect(d8110('71234567890123')).toMatchObject({ ok: false, error: 'bad-vli' });
    expect(d8110('9123456789012345')).toMatchObject({ ok: false, error: 'bad-vli' });
  });

  it('save value and purchase requirement VLIs are 1–5', () => {
    expect(d8110('01234561234560')).toMatchObject({
      ok: false,
      error: 'bad-vli',
      detail: 'save value at 13',
    });
    expect(d8110('01234561234566123456')).toMatchObject({ ok: false, error: 'bad-vli' });
    expect(d8110('0123456123456110')).toMatchObject({ ok: false, error: 'bad-vli' });
    const r = d8110('01234561234565999995999990012');
    expect(r.ok && r.value).toMatchObject({
      saveValue: 99999,
      primaryPurchase: { requirement: 99999, requirementCode: 0, familyCode: '012' },
    });
  });

  it('purchase requirement codes 0–4 and 9 only; additional purchase rules 0–3', () => {
    for (const code of '012349') expect(d8110(`01234561234561111${code}123`).ok, code).toBe(true);
    for (const code of '5678')
      expect(d8110(`01234561234561111${code}123`), code).toMatchObject({ ok: false, error: 'bad-code' });
    expect(d8110('01234561234561111012314')).toMatchObject({ ok: false, error: 'bad-code' });
  });

  it('truncated and missing fields name the field and its position', () => {
    expect(d8110('')).toMatchObject({
      ok: false,
      error: 'missing',
      detail: 'primary company prefix length at 0',
    });
    expect(d8110('012345')).toMatchObject({
      ok: false,
      error: 'truncated',
      detail: 'primary company prefix at 1',
    });
    expect(d8110('0123456123')).toMatchObject({ ok: false, error: 'truncated', detail: 'offer code at 7' });
    expect(d8110('01234561234561111012')).toMatchObject({ ok: false, error: 'truncated' });
    expect(d8110('0123456123456111101231')).toMatchObject({ ok: false, error: 'missing' });
  });

  it('dates: real days only (no day 00), leap years, start not after expiry', () => {
    expect(d8110('0123456123456111101233200229')).toMatchObject({
      ok: true,
      value: { expirationDate: '2020-02-29' },
    });
    expect(d8110('0123456123456111101233210229')).toMatchObject({ ok: false, error: 'invalid-date' });
    expect(d8110('0123456123456111101233200600')).toMatchObject({ ok: false, error: 'invalid-date' });
    expect(d8110('0123456123456111101233201310')).toMatchObject({ ok: false, error: 'invalid-date' });
    expect(d8110('01234561234561111012335006064500606')).toMatchObject({
      ok: true,
      value: { expirationDate: '2050-06-06', startDate: '2050-06-06' },
    });
    expect(d8110('01234561234561111012335006064500607')).toMatchObject({
      ok: false,
      error: 'start-after-expiry',
    });
    // The century follows the scan's capture time (GS1 General Specifications §7.12).
    expect(decodeCoupon8110('0123456123456111101233990606', { nowMs: NOW })).toMatchObject({
      value: { expirationDate: '1999-06-06' },
    });
    expect(decodeCoupon8110(`${base}990606`, { nowMs: Date.UTC(2080, 0, 1) })).toMatchObject({
      value: { startDate: '2099-06-06' },
    });
  });

  it('serial number: VLI 0–9 means 6–15 digits; retailer id: VLI 1–7 means 7–13 digits', () => {
    expect(d8110('01234561234561111012359123456789012345')).toMatchObject({
      ok: true,
      value: { serialNumber: '123456789012345' },
    });
    expect(d8110('01234561234561111012350123456')).toMatchObject({ value: { serialNumber: '123456' } });
    expect(d8110('012345612345611110123671234567890123')).toMatchObject({
      value: { retailerId: '1234567890123' },
    });
    expect(d8110('01234561234561111012360')).toMatchObject({ ok: false, error: 'bad-vli' });
    expect(d8110('0123456123456111101236812345678901234')).toMatchObject({ ok: false, error: 'bad-vli' });
  });

  it('field 9: save value code 0, 1, 2, 5, 6; applies to 0–2; any store flag; don’t multiply 0/1', () => {
    const req = '012345612345611110123';
    for (const c of '01256') expect(d8110(`${req}9${c}000`).ok, c).toBe(true);
    for (const c of '34789')
      expect(d8110(`${req}9${c}000`), c).toMatchObject({ ok: false, error: 'bad-code' });
    expect(d8110('01234561234561111012390301')).toMatchObject({ ok: false, error: 'bad-code' });
    expect(d8110('01234561234561111012390091')).toMatchObject({
      ok: true,
      value: { storeCouponFlag: 9, dontMultiply: true },
    });
    expect(d8110('01234561234561111012390002')).toMatchObject({ ok: false, error: 'bad-code' });
  });

  it('optional fields come once, in ascending order; anything after them is excess data', () => {
    expect(d8110('0123456123456111101230')).toMatchObject({ ok: false, error: 'excess-data' });
    expect(d8110('0123456123456111101237')).toMatchObject({ ok: false, error: 'excess-data' });
    // Expiry after the start date field: out of order.
    expect(d8110('01234561234561111012342001013200101')).toMatchObject({ ok: false, error: 'excess-data' });
    expect(d8110('012345612345611110123900000')).toMatchObject({ ok: false, error: 'excess-data' });
  });

  it('refuses non-digits and data longer than 70 characters', () => {
    expect(d8110('a12345612345611110123')).toMatchObject({ ok: false, error: 'not-numeric', detail: 'at 0' });
    expect(d8110(`0123456123456111101235912345678901234${'5'.repeat(40)}`)).toMatchObject({
      ok: false,
      error: 'too-long',
    });
  });

  it('encodes what it decodes (generated coupons, every optional field)', () => {
    const wide: Omit<Coupon8110, 'format'> = {
      companyPrefix: '0614141',
      offerCode: '000042',
      saveValue: 50,
      primaryPurchase: { requirement: 2, requirementCode: 0, familyCode: '120' },
      secondPurchase: { requirement: 3, requirementCode: 1, familyCode: '992' },
      thirdPurchase: { requirement: 5, requirementCode: 4, familyCode: '000' },
      additionalPurchaseRules: 2,
      expirationDate: '2027-03-31',
      startDate: '2026-11-01',
      saveValueCode: 5,
      saveValueAppliesTo: 1,
      storeCouponFlag: 3,
      dontMultiply: true,
    };
    const long: Omit<Coupon8110, 'format'> = {
      companyPrefix: '0614141123',
      offerCode: '777777',
      saveValue: 1234,
      primaryPurchase: { requirement: 399, requirementCode: 1, familyCode: '000' },
      secondPurchase: { requirement: 1, requirementCode: 9, familyCode: '100', companyPrefix: '0123456' },
      additionalPurchaseRules: 0,
      serialNumber: '000123',
      retailerId: '4012345000009',
    };
    for (const c of [wide, long]) {
      const raw = encodeCoupon8110(c);
      expect(raw.length).toBeLessThanOrEqual(70);
      expect(d8110(raw)).toEqual({ ok: true, value: { format: 'gs1-8110', ...c } });
    }
  });
});

describe('AI (8112): positive offer file coupons (GS1 linter vectors)', () => {
  it('format code, funder id (VLI 0–6: 6–12 digits), offer code, serial number (VLI 0–9: 6–15 digits)', () => {
    expect(decodeCoupon8112('001234561234560123456')).toEqual({
      ok: true,
      value: {
        format: 'gs1-8112',
        formatCode: 0,
        funderId: '123456',
        offerCode: '123456',
        serialNumber: '123456',
      },
    });
    expect(decodeCoupon8112('061234567890121234569123456789012345')).toEqual({
      ok: true,
      value: {
        format: 'gs1-8112',
        formatCode: 0,
        funderId: '123456789012',
        offerCode: '123456',
        serialNumber: '123456789012345',
      },
    });
    expect(decodeCoupon8112('101234561234560123456')).toMatchObject({ ok: true, value: { formatCode: 1 } });
  });

  it('refuses bad format codes, VLIs, truncation and excess data', () => {
    expect(decodeCoupon8112('201234561234560123456')).toMatchObject({ ok: false, error: 'bad-code' });
    expect(decodeCoupon8112('07')).toMatchObject({ ok: false, error: 'bad-vli' });
    expect(decodeCoupon8112('0012345')).toMatchObject({ ok: false, error: 'truncated' });
    expect(decodeCoupon8112('00123456123456')).toMatchObject({ ok: false, error: 'missing' });
    expect(decodeCoupon8112('0012345612345601234567')).toMatchObject({ ok: false, error: 'excess-data' });
    expect(decodeCoupon8112('a01234561234560123456')).toMatchObject({ ok: false, error: 'not-numeric' });
  });

  it('round-trips through its encoder', () => {
    const c = { formatCode: 1, funderId: '0614141000', offerCode: '777777', serialNumber: '98765432109' };
    expect(decodeCoupon8112(encodeCoupon8112(c))).toEqual({ ok: true, value: { format: 'gs1-8112', ...c } });
  });
});

describe('coupons in scans', () => {
  it('AI 8110 is in the AI table: a GS1 DataBar Expanded coupon parses with its title and a 70-character limit', () => {
    const r = parseElementString('8110106141416543213500110000310123196000', { nowMs: NOW });
    expect(r).toEqual({
      ok: true,
      value: [
        {
          ai: '8110',
          raw: '106141416543213500110000310123196000',
          value: '106141416543213500110000310123196000',
        },
      ],
    });
    expect(parseElementString(`8110${'1'.repeat(71)}`, { nowMs: NOW })).toMatchObject({
      ok: false,
      error: 'too-long',
    });
    const scan = interpretScan(
      { text: '8112001234561234560123456', aim: ']e0', symbology: 'gs1-databar' },
      { schemes: [], nowMs: NOW },
    );
    expect(scan.gs1?.['8112']?.raw).toBe('001234561234560123456');
  });

  it('UPC-A number system 5: company prefix, family code, value code (the UPC part of a UPC + DataBar coupon)', () => {
    // "514141100906" is the UPC-A half of a published UPC-A + GS1 DataBar coupon example.
    expect(decodeUpcCoupon('514141100906')).toEqual({
      format: 'upc-a-5',
      companyPrefix: '14141',
      familyCode: '100',
      valueCode: '90',
    });
    expect(decodeUpcCoupon('00514141100906')).toMatchObject({ companyPrefix: '14141' });
    expect(decodeUpcCoupon('514141100907')).toBeNull(); // wrong check digit
    expect(decodeUpcCoupon('04006381333931')).toBeNull(); // a product
  });
});
