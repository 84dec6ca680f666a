import { randomBytes } from 'node:crypto';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  appToken,
  appTokenRule,
  demoCoupon,
  emvPaymentQr,
  LOYALTY_CARD_RULE,
  loyaltyCard,
} from '../../simulators/app-shopper.js';
import { withCheckDigit } from '../../simulators/barcodes.js';
import { interpretScan } from '../../src/barcode/interpret.js';
import { validateConfig } from '../../src/config/load.js';
import { isGatewayError } from '../../src/errors.js';
import type { EventData } from '../../src/events/catalog.js';
import { EventFactory } from '../../src/events/envelope.js';
import { hmacTagValid, luhnValid } from '../../src/identity/checks.js';
import { classifyScan } from '../../src/identity/classify.js';
import type { IdentityConfig, MatchRule } from '../../src/identity/config.js';
import { readableByOthers, readKeyFile } from '../../src/identity/keys.js';
import { compileRules, identityConfigIssues } from '../../src/identity/rules.js';
import { identifyScan, type ScanIdentityDeps } from '../../src/identity/scan-identity.js';
import { tmpDir } from '../helpers/tmp.js';

const NOW = Date.UTC(2026, 10, 24, 9, 30, 0);
const KEY = randomBytes(32);

/** The identity section with defaults applied, as the config loader would. */
function section(extra: Record<string, unknown> = {}): IdentityConfig {
  const r = validateConfig({
    store: { id: '0421' },
    gateway: { id: 'gw-1' },
    identity: { enabled: true, ...extra },
  });
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.config.identity;
}

const APP = appTokenRule('/unused/key-file', 300);
const rules = (extra: Record<string, unknown> = {}) =>
  compileRules(section({ loyalty: [LOYALTY_CARD_RULE, APP], ...extra }), {
    hmac: new Map([['loyalty-app', KEY]]),
  });

/** A scan as the pipeline hands it to classification: enriched by the barcode interpreter. */
function scan(text: string, aim?: string, symbology = 'unknown'): EventData<'retail.scan.v1'> {
  const base = { deviceId: 'lane-2-scanner', text, ...(aim ? { aim } : {}), symbology };
  return { ...base, ...interpretScan(base, { schemes: [], nowMs: NOW }) };
}

describe('scan classification with real-shaped codes', () => {
  const r = rules();

  it('a loyalty card: EAN-13 with the in-store prefix 29 and a right check digit', () => {
    const card = loyaltyCard(421000042);
    expect(card).toBe('2904210000424');
    expect(classifyScan(scan(card, ']E0', 'ean-13'), r, NOW)).toEqual({
      category: 'loyalty',
      scheme: 'store-card',
      method: 'card',
      loyaltyId: '0421000042',
    });
    // Without an AIM identifier too (scanner sends none).
    expect(classifyScan(scan(card), r, NOW)).toMatchObject({ category: 'loyalty', loyaltyId: '0421000042' });
    // A damaged card: same shape, wrong check digit. Not a product either.
    expect(classifyScan(scan('2904210000423', ']E0', 'ean-13'), r, NOW)).toEqual({
      category: 'unknown',
      scheme: 'store-card',
      schemeError: 'check-digit',
    });
  });

  it('a product EAN-13 outside the in-store prefix stays a product', () => {
    expect(classifyScan(scan('4006381333931', ']E0', 'ean-13'), r, NOW)).toEqual({ category: 'product' });
    expect(classifyScan(scan('https://id.gs1.org/01/09506000134352', ']Q1', 'qr'), r, NOW)).toEqual({
      category: 'product',
    });
  });

  it('an app token by regex, its HMAC tag verified with the key, its age checked', () => {
    const token = appToken(KEY, 'LOY-0421-000042', NOW - 20_000);
    expect(token).toMatch(/^SGAPP1\.LOY-0421-000042\.[0-9]{10}\.[A-Za-z0-9_-]{22}$/);
    expect(classifyScan(scan(token, ']Q1', 'qr'), r, NOW)).toEqual({
      category: 'loyalty',
      scheme: 'loyalty-app',
      method: 'app',
      loyaltyId: 'LOY-0421-000042',
    });
    const forged = appToken(randomBytes(32), 'LOY-0421-000042', NOW);
    expect(classifyScan(scan(forged, ']Q1', 'qr'), r, NOW)).toEqual({
      category: 'unknown',
      scheme: 'loyalty-app',
      schemeError: 'signature',
    });
    // Someone else's id under a valid-looking tag: the tag covers the id.
    const swapped = token.replace('000042', '000043');
    expect(classifyScan(scan(swapped, ']Q1', 'qr'), r, NOW)).toMatchObject({ schemeError: 'signature' });
    const stale = appToken(KEY, 'LOY-0421-000042', NOW - 301_000);
    expect(classifyScan(scan(stale, ']Q1', 'qr'), r, NOW)).toMatchObject({ schemeError: 'expired' });
  });

  it('payment tokens: an EMV consumer-presented QR and a card number (Luhn), before anything else', () => {
    expect(classifyScan(scan(emvPaymentQr(), ']Q1', 'qr'), r, NOW)).toEqual({
      category: 'payment-token',
      scheme: 'emv-cpm',
    });
    expect(classifyScan(scan('4111111111111111', ']Q1', 'qr'), r, NOW)).toEqual({
      category: 'payment-token',
      scheme: 'pan',
    });
    // A misread card number is still a card number: withheld too, flagged.
    expect(classifyScan(scan('4111111111111112', ']C0', 'code-128'), r, NOW)).toEqual({
      category: 'payment-token',
      scheme: 'pan',
      schemeError: 'check-digit',
    });
    expect(classifyScan(scan('378282246310005'), r, NOW)).toMatchObject({ category: 'payment-token' });
    // GTIN lengths are never taken for card numbers.
    expect(classifyScan(scan('4000000000006', ']E0', 'ean-13'), r, NOW)).toEqual({ category: 'product' });
  });

  it('a custom wallet rule comes before the presets; presets can be switched off', () => {
    const wallet: MatchRule = { name: 'shop-pay', prefixes: ['SHOPPAY:'], check: 'none', method: 'card' };
    const custom = rules({ payment: { rules: [wallet], presets: [] } });
    expect(classifyScan(scan('SHOPPAY:9f8e7d6c5b4a', ']Q1', 'qr'), custom, NOW)).toEqual({
      category: 'payment-token',
      scheme: 'shop-pay',
    });
    expect(classifyScan(scan('4111111111111111', ']Q1', 'qr'), custom, NOW)).toEqual({ category: 'unknown' });
  });

  it('coupons: AI 8110 in DataBar, a bare 8110 without AIM, AI 8112, UPC-A number system 5', () => {
    const databar = demoCoupon();
    const c = classifyScan(scan(databar, ']e0', 'gs1-databar'), r, NOW);
    expect(c).toMatchObject({ category: 'coupon', format: 'gs1-8110', coupon: { ok: true } });
    expect(classifyScan(scan(databar), r, NOW)).toMatchObject({ category: 'coupon', format: 'gs1-8110' });
    expect(classifyScan(scan('8112001234561234560123456', ']e0', 'gs1-databar'), r, NOW)).toMatchObject({
      category: 'coupon',
      format: 'gs1-8112',
    });
    expect(classifyScan(scan('514141100906', ']E0', 'ean-13'), r, NOW)).toMatchObject({
      category: 'coupon',
      format: 'upc-a-5',
      raw: '514141100906',
    });
    // A malformed coupon in a GS1 symbol is still a coupon (reported invalid)…
    expect(classifyScan(scan('8110012345', ']C1', 'gs1-128'), r, NOW)).toMatchObject({
      category: 'coupon',
      coupon: { ok: false, error: 'truncated' },
    });
    // …but bare digits without AIM only when they decode.
    expect(classifyScan(scan('81100123456789012345678901'), r, NOW)).toEqual({ category: 'unknown' });
    const off = rules({ coupons: false });
    expect(classifyScan(scan('514141100906', ']E0', 'ean-13'), off, NOW)).toEqual({ category: 'product' });
  });

  it('URLs and anything else', () => {
    expect(classifyScan(scan('https://example.com/app', ']Q1', 'qr'), r, NOW)).toEqual({ category: 'url' });
    expect(classifyScan(scan('HELLO WORLD', ']A0', 'code-39'), r, NOW)).toEqual({ category: 'unknown' });
    expect(classifyScan(scan(withCheckDigit('400638133393').slice(0, 12)), r, NOW)).toEqual({
      category: 'unknown',
    });
  });
});

describe('what leaves the gateway (identifyScan)', () => {
  const deps = (loyaltyIds: 'clear' | 'hashed'): ScanIdentityDeps => ({
    rules: rules(),
    loyaltyIds,
    loyaltyHash: (id) => `ab${Buffer.from(id).toString('hex')}`.slice(0, 32).padEnd(32, '0'),
    paymentRef: () => 'pt_0123456789abcdef',
    laneOf: (d) => (d === 'lane-2-scanner' ? 'lane-2' : d),
  });
  const factory = new EventFactory({ storeId: '0421', gatewayId: 'gw-1' });
  const valid = (type: Parameters<EventFactory['create']>[0], data: unknown) =>
    factory.create(type, 'lane-2-scanner', data as never, NOW);

  it('a payment token: text replaced, nothing derived from it, a reference and a marker', () => {
    const pan = '4111111111111111';
    const r = identifyScan(scan(pan, ']Q1', 'qr'), NOW, deps('clear'));
    expect(r.data).toEqual({
      deviceId: 'lane-2-scanner',
      text: '[payment-token]',
      aim: ']Q1',
      symbology: 'qr',
      scanDataType: 204,
      category: 'payment-token',
      scheme: 'pan',
      sensitive: 'payment-token',
      tokenRef: 'pt_0123456789abcdef',
    });
    expect(r.follow).toEqual([]);
    expect(JSON.stringify(r.data)).not.toContain('4111');
    // A card number scanned without AIM might look like GS1 data: none of it survives.
    const bare = identifyScan(scan('4111111111111111'), NOW, deps('clear'));
    expect(bare.data).not.toHaveProperty('gtin');
    expect(() => valid('retail.scan.v1', r.data)).not.toThrow();
  });

  it('a loyalty scan in clear: the scan as read plus retail.loyalty.identified.v1 with the lane', () => {
    const card = loyaltyCard(421000042);
    const r = identifyScan(scan(card, ']E0', 'ean-13'), NOW, deps('clear'));
    expect(r.data).toMatchObject({ text: card, category: 'loyalty', scheme: 'store-card', gtin: `0${card}` });
    expect(r.follow).toEqual([
      {
        type: 'retail.loyalty.identified.v1',
        data: {
          deviceId: 'lane-2-scanner',
          lane: 'lane-2',
          method: 'card',
          scheme: 'store-card',
          loyaltyId: '0421000042',
        },
      },
    ]);
    expect(r.identified).toEqual({ loyaltyId: '0421000042', method: 'card', scheme: 'store-card' });
    for (const f of r.follow) expect(() => valid(f.type, f.data)).not.toThrow();
  });

  it('hashed loyalty ids: the card number is withheld from the scan, the event carries the hash only', () => {
    const card = loyaltyCard(421000042);
    const r = identifyScan(scan(card, ']E0', 'ean-13'), NOW, deps('hashed'));
    expect(r.data).toEqual({
      deviceId: 'lane-2-scanner',
      text: '[loyalty-id]',
      aim: ']E0',
      symbology: 'ean-13',
      scanDataType: 104,
      category: 'loyalty',
      scheme: 'store-card',
      sensitive: 'loyalty-id',
    });
    const event = r.follow[0]?.data as Record<string, unknown>;
    expect(event.loyaltyHash).toMatch(/^[0-9a-f]{32}$/);
    expect(event).not.toHaveProperty('loyaltyId');
    expect(JSON.stringify(r)).toContain('0421000042'); // only in `identified`, which stays in memory
    expect(JSON.stringify({ data: r.data, follow: r.follow })).not.toContain('0421000042');
    // A damaged card is withheld too: it is still someone's number.
    const damaged = identifyScan(scan('2904210000423', ']E0', 'ean-13'), NOW, deps('hashed'));
    expect(damaged.data).toMatchObject({
      text: '[loyalty-id]',
      schemeError: 'check-digit',
      category: 'unknown',
    });
  });

  it('a coupon: the scan plus retail.coupon.scanned.v1 with the decoded fields, valid against its schema', () => {
    const r = identifyScan(
      scan(demoCoupon('424242', '2029-12-31'), ']e0', 'gs1-databar'),
      NOW,
      deps('clear'),
    );
    expect(r.data.category).toBe('coupon');
    expect(r.follow).toEqual([
      {
        type: 'retail.coupon.scanned.v1',
        data: {
          deviceId: 'lane-2-scanner',
          lane: 'lane-2',
          format: 'gs1-8110',
          raw: '1061414142424231001201203291231',
          valid: true,
          companyPrefix: '0614141',
          offerCode: '424242',
          saveValue: 100,
          primaryPurchase: { requirement: 2, requirementCode: 0, familyCode: '120' },
          expirationDate: '2029-12-31',
        },
      },
    ]);
    for (const f of r.follow) expect(() => valid(f.type, f.data)).not.toThrow();
    const bad = identifyScan(scan('8110012345', ']C1', 'gs1-128'), NOW, deps('clear'));
    expect(bad.follow[0]?.data).toMatchObject({
      valid: false,
      reason: 'truncated',
      detail: 'primary company prefix at 1',
    });
    for (const f of bad.follow) expect(() => valid(f.type, f.data)).not.toThrow();
  });
});

describe('checks and config rules', () => {
  it('Luhn and HMAC tags', () => {
    expect(luhnValid('4111111111111111')).toBe(true);
    expect(luhnValid('79927398713')).toBe(true);
    expect(luhnValid('79927398710')).toBe(false);
    const token = appToken(KEY, 'X-1', NOW);
    const at = token.lastIndexOf('.') + 1;
    expect(hmacTagValid(KEY, token.slice(0, at), token.slice(at), 'base64url')).toBe(true);
    expect(hmacTagValid(KEY, token.slice(0, at), token.slice(at, at + 4), 'base64url')).toBe(false);
  });

  it('lists every rule the schema cannot express, by path (config check shows them)', () => {
    const r = validateConfig({
      store: { id: '0421' },
      gateway: { id: 'gw-1' },
      identity: {
        enabled: true,
        loyaltyIds: 'hashed',
        loyalty: [
          { name: 'a', check: 'hmac', pattern: '^(?<id>x)$' },
          { name: 'a', pattern: '^x$', hmac: { keyFile: '/k' } },
          { name: 'b', check: 'hmac', pattern: '^(?<mac>x)$', hmac: { keyFile: '/k', maxAgeSec: 5 } },
        ],
      },
    });
    expect(r.ok).toBe(false);
    expect(r.ok ? [] : r.issues).toEqual([
      { path: '/identity/loyalty/0/hmac', message: 'is required with check: hmac' },
      { path: '/identity/loyalty/0/pattern', message: 'needs a named group (?<mac>…) with check: hmac' },
      { path: '/identity/loyalty/1/name', message: 'duplicates /identity/loyalty/0/name' },
      { path: '/identity/loyalty/1/hmac', message: 'is only used with check: hmac' },
      { path: '/identity/loyalty/2/hmac/maxAgeSec', message: 'needs a named group (?<ts>…) in pattern' },
      { path: '/identity/loyaltyKeyFile', message: 'is required with loyaltyIds: hashed' },
    ]);
    expect(identityConfigIssues(section({ loyalty: [LOYALTY_CARD_RULE, APP] }))).toEqual([]);
  });

  it('key files: GW_ERR_KEY_FILE when missing or shorter than 16 bytes, naming the file, never the content', () => {
    const dir = tmpDir('sg-identity-keys-');
    try {
      const ok = join(dir.path, 'ok.key');
      writeFileSync(ok, 'a-secret-of-24-bytes-xyz\n', { mode: 0o600 });
      expect(readKeyFile(ok, 'identity.loyaltyKeyFile').toString()).toBe('a-secret-of-24-bytes-xyz');
      expect(readableByOthers(ok)).toBe(false);
      chmodSync(ok, 0o644);
      expect(readableByOthers(ok)).toBe(true);
      const short = join(dir.path, 'short.key');
      writeFileSync(short, 'tiny-secret-15b\n');
      const thrown = (path: string) => {
        try {
          readKeyFile(path, 'identity rule loyalty-app');
        } catch (err) {
          return err;
        }
        return undefined;
      };
      for (const path of [short, join(dir.path, 'missing.key')]) {
        const err = thrown(path);
        expect(isGatewayError(err, 'GW_ERR_KEY_FILE'), path).toBe(true);
        expect((err as Error).message).toContain('identity rule loyalty-app');
        expect((err as Error).message).toContain(path);
        expect((err as Error).message).not.toContain('tiny-secret');
      }
    } finally {
      dir.cleanup();
    }
  });

  it('the config schema refuses a pattern that is not a regular expression', () => {
    const r = validateConfig({
      store: { id: '0421' },
      gateway: { id: 'gw-1' },
      identity: { loyalty: [{ name: 'x', pattern: '([' }] },
    });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.issues.map((i) => i.path)).toEqual(['/identity/loyalty/0/pattern']);
  });
});
