import { hasValidCheckDigit } from '../barcode/check-digit.js';
import type { SchemaIssue } from '../schema/ajv.js';
import { hmacTagValid, luhnValid, type TagEncoding } from './checks.js';
import type { IdentityConfig, MatchRule, PaymentPreset } from './config.js';

/**
 * Matching rules for loyalty cards, app tokens and payment tokens, compiled once from the config.
 * Matching is pure: the keys of HMAC rules are read at start (src/identity/keys.ts) and handed in.
 */

/** What a scan looks like to the rules: its text and symbology. */
export interface RuleInput {
  text: string;
  symbology: string;
}

export type RuleError = 'check-digit' | 'signature' | 'expired';

export type RuleOutcome =
  /** The scan has the rule's shape and passes its check; `id` = the `id` group, or the whole text. */
  | { rule: CompiledRule; ok: true; id: string }
  /** The scan has the rule's shape but fails its check (a damaged card, a forged or stale token). */
  | { rule: CompiledRule; ok: false; error: RuleError };

export interface CompiledRule {
  readonly name: string;
  readonly method: 'card' | 'app';
  /** `null` when the scan does not have this rule's shape. */
  match(scan: RuleInput, nowMs: number): RuleOutcome | null;
}

/** Built-in payment token patterns (docs/IDENTITY.md). */
export const PAYMENT_PRESET_RULES: Record<PaymentPreset, MatchRule> = {
  // EMVCo QR Code Specification for Payment Systems, consumer-presented mode: the payload starts with
  // the Payload Format Indicator 85 05 "CPV01" (base64 "hQVDUFYw…"), or the raw bytes.
  'emv-cpm': { name: 'emv-cpm', prefixes: ['hQVDUFYw', '\u0085\u0005CPV0'], check: 'none', method: 'card' },
  // A payment card number of 15–19 digits in a major brand's IIN range with a valid Luhn digit. 13-
  // and 14-digit numbers are left out: they cannot be told from an EAN-13 or a GTIN-14.
  pan: {
    name: 'pan',
    lengths: [15, 16, 17, 18, 19],
    pattern:
      '^(?:4[0-9]{14,18}|5[1-5][0-9]{14}|2(?:22[1-9]|2[3-9][0-9]|[3-6][0-9]{2}|7[01][0-9]|720)[0-9]{12}|3[47][0-9]{13}|6(?:011|5[0-9]{2}|4[4-9][0-9])[0-9]{11,15})$',
    check: 'luhn',
    method: 'card',
  },
};

interface Keys {
  /** HMAC keys by rule name. */
  hmac: ReadonlyMap<string, Buffer>;
}

function groupsOf(re: RegExp | undefined, text: string): RegExpExecArray | null | undefined {
  if (!re) return undefined;
  re.lastIndex = 0;
  return re.exec(text);
}

function verifyHmac(
  rule: MatchRule,
  key: Buffer | undefined,
  m: RegExpExecArray,
  text: string,
  nowMs: number,
): RuleError | undefined {
  const tag = m.groups?.mac;
  const at = m.indices?.groups?.mac?.[0];
  if (!key || tag === undefined || at === undefined) return 'signature';
  if (!hmacTagValid(key, text.slice(0, at), tag, (rule.hmac?.encoding ?? 'base64url') as TagEncoding))
    return 'signature';
  const maxAge = rule.hmac?.maxAgeSec;
  if (maxAge !== undefined) {
    const ts = Number(m.groups?.ts);
    if (!Number.isFinite(ts) || Math.abs(nowMs / 1000 - ts) > maxAge) return 'expired';
  }
  return undefined;
}

function compile(rule: MatchRule, keys: Keys): CompiledRule {
  const re = rule.pattern === undefined ? undefined : new RegExp(rule.pattern, 'du');
  const symbologies = rule.symbologies ? new Set(rule.symbologies) : undefined;
  const lengths = rule.lengths ? new Set(rule.lengths) : undefined;
  const key = keys.hmac.get(rule.name);
  const compiled: CompiledRule = {
    name: rule.name,
    method: rule.method ?? 'card',
    match(scan, nowMs) {
      const { text } = scan;
      if (symbologies && !symbologies.has(scan.symbology)) return null;
      if (lengths && !lengths.has(text.length)) return null;
      if (rule.prefixes && !rule.prefixes.some((p) => text.startsWith(p))) return null;
      const m = groupsOf(re, text);
      if (m === null) return null;
      const id = m?.groups?.id ?? text;
      let error: RuleError | undefined;
      if (rule.check === 'gs1' && !hasValidCheckDigit(text)) error = 'check-digit';
      else if (rule.check === 'luhn' && !luhnValid(text)) error = 'check-digit';
      else if (rule.check === 'hmac') error = m ? verifyHmac(rule, key, m, text, nowMs) : 'signature';
      return error ? { rule: compiled, ok: false, error } : { rule: compiled, ok: true, id };
    },
  };
  return compiled;
}

export interface CompiledRules {
  /** Custom payment rules first, then the presets. */
  payment: readonly CompiledRule[];
  loyalty: readonly CompiledRule[];
  coupons: boolean;
}

/** Compiles the `identity` rules; `keys.hmac` holds the key of every rule with `check: hmac`. */
export function compileRules(
  config: Pick<IdentityConfig, 'payment' | 'loyalty' | 'coupons'>,
  keys: Keys = { hmac: new Map() },
): CompiledRules {
  return {
    payment: [
      ...config.payment.rules.map((r) => compile(r, keys)),
      ...config.payment.presets.map((p) => compile(PAYMENT_PRESET_RULES[p], keys)),
    ],
    loyalty: config.loyalty.map((r) => compile(r, keys)),
    coupons: config.coupons,
  };
}

/** The first rule of `rules` the scan has the shape of (passing or failing its check), or null. */
export function firstMatch(
  rules: readonly CompiledRule[],
  scan: RuleInput,
  nowMs: number,
): RuleOutcome | null {
  for (const rule of rules) {
    const outcome = rule.match(scan, nowMs);
    if (outcome) return outcome;
  }
  return null;
}

/**
 * Rules the schema cannot express: HMAC rules need a pattern with a `mac` group and a key file,
 * `maxAgeSec` needs a `ts` group, rule names are unique, hashed loyalty ids need a key.
 */
export function identityConfigIssues(config: IdentityConfig, base = '/identity'): SchemaIssue[] {
  const issues: SchemaIssue[] = [];
  const names = new Map<string, string>();
  const check = (rule: MatchRule, path: string) => {
    const prior = names.get(rule.name);
    if (prior !== undefined) issues.push({ path: `${path}/name`, message: `duplicates ${prior}/name` });
    else names.set(rule.name, path);
    if (rule.pattern !== undefined) {
      try {
        new RegExp(rule.pattern, 'du');
      } catch {
        issues.push({ path: `${path}/pattern`, message: 'is not a valid regular expression' });
      }
    }
    const hasGroup = (g: string) => rule.pattern?.includes(`(?<${g}>`) === true;
    if (rule.check === 'hmac') {
      if (!rule.hmac) issues.push({ path: `${path}/hmac`, message: 'is required with check: hmac' });
      if (!hasGroup('mac'))
        issues.push({ path: `${path}/pattern`, message: 'needs a named group (?<mac>…) with check: hmac' });
    } else if (rule.hmac) {
      issues.push({ path: `${path}/hmac`, message: 'is only used with check: hmac' });
    }
    if (rule.hmac?.maxAgeSec !== undefined && !hasGroup('ts'))
      issues.push({ path: `${path}/hmac/maxAgeSec`, message: 'needs a named group (?<ts>…) in pattern' });
  };
  config.payment.rules.forEach((r, i) => {
    check(r, `${base}/payment/rules/${i}`);
  });
  config.loyalty.forEach((r, i) => {
    check(r, `${base}/loyalty/${i}`);
  });
  if (config.loyaltyIds === 'hashed' && config.loyaltyKeyFile === undefined)
    issues.push({ path: `${base}/loyaltyKeyFile`, message: 'is required with loyaltyIds: hashed' });
  return issues;
}
