import { err, ok, type Result } from '../result.js';
import type { AiDef } from './ai-table.js';
import { hasValidCheckDigit } from './check-digit.js';
import { currencyCode } from './currency.js';

/** Why a GS1 element string or Digital Link was rejected. */
export type Gs1Error =
  | 'empty'
  | 'unknown-ai'
  | 'truncated'
  | 'too-long'
  | 'not-numeric'
  | 'bad-character'
  | 'check-digit'
  | 'invalid-date'
  | 'duplicate-ai';

/** One AI's value as it appears in `retail.scan.v1` data (`gs1[ai]`). */
export interface Gs1Value {
  /** The data exactly as encoded. */
  raw: string;
  /** Typed: a string for ids, text and dates ("YYYY-MM-DD"), a number for counts, measures and amounts. */
  value: string | number;
  /** Measures: kg, lb, m, l, m2, … */
  unit?: string;
  /** 391n/393n: ISO 4217 alphabetic code (numeric when not in the gateway's table). */
  currency?: string;
}

export interface Gs1Element extends Gs1Value {
  ai: string;
}

const DIGITS = /^[0-9]+$/;
/** GS1 AI encodable character set 82. */
const CSET82 = /^[!"%-?A-Z_a-z]+$/;

/** "001250" with 3 decimals → 1.25. Built from the string so no binary rounding creeps in. */
function decimal(digits: string, decimals: number): number {
  if (decimals === 0) return Number(digits);
  const padded = digits.padStart(decimals + 1, '0');
  return Number(`${padded.slice(0, -decimals)}.${padded.slice(-decimals)}`);
}

/**
 * The century of a two-digit year (GS1 General Specifications §7.12): within 50 years ahead or
 * 49 behind the reference year.
 */
export function fullYear(yy: number, nowMs: number): number {
  const year = Number.isFinite(nowMs) ? new Date(nowMs).getUTCFullYear() : 2000;
  const century = year - (year % 100);
  const diff = yy - (year % 100);
  if (diff >= 51) return century - 100 + yy;
  if (diff <= -50) return century + 100 + yy;
  return century + yy;
}

const daysIn = (year: number, month: number) => new Date(Date.UTC(year, month, 0)).getUTCDate();
const two = (n: number) => String(n).padStart(2, '0');

/** YYMMDD → "YYYY-MM-DD". Day 00 means "the month" (GS1): the last day of that month is given. */
function date(raw: string, nowMs: number): Result<string, Gs1Error> {
  const [yy, mm, dd] = [Number(raw.slice(0, 2)), Number(raw.slice(2, 4)), Number(raw.slice(4, 6))];
  const year = fullYear(yy, nowMs);
  if (mm < 1 || mm > 12) return err('invalid-date');
  const last = daysIn(year, mm);
  if (dd > last) return err('invalid-date');
  return ok(`${String(year).padStart(4, '0')}-${two(mm)}-${two(dd === 0 ? last : dd)}`);
}

/** YYMMDDHH[MM[SS]] → "YYYY-MM-DDTHH:MM:SS" (local time of the producer; no zone is encoded). */
function dateTime(raw: string, nowMs: number): Result<string, Gs1Error> {
  if (raw.length % 2 !== 0) return err('invalid-date');
  const day = date(raw.slice(0, 6), nowMs);
  if (!day.ok) return day;
  if (raw.slice(4, 6) === '00') return err('invalid-date');
  const [hh, mi, ss] = [
    Number(raw.slice(6, 8)),
    Number(raw.slice(8, 10) || 0),
    Number(raw.slice(10, 12) || 0),
  ];
  if (hh > 23 || mi > 59 || ss > 59) return err('invalid-date');
  return ok(`${day.value}T${two(hh)}:${two(mi)}:${two(ss)}`);
}

type Typer = (raw: string, d: AiDef, nowMs: number) => Result<Gs1Value, Gs1Error>;

const TYPERS: Record<AiDef['kind'], Typer> = {
  id: (raw) => (hasValidCheckDigit(raw) ? ok({ raw, value: raw }) : err('check-digit')),
  digits: (raw) => ok({ raw, value: raw }),
  text: (raw) => ok({ raw, value: raw }),
  count: (raw) => ok({ raw, value: Number(raw) }),
  date: (raw, _d, nowMs) => {
    const r = date(raw, nowMs);
    return r.ok ? ok({ raw, value: r.value }) : r;
  },
  datetime: (raw, _d, nowMs) => {
    const r = dateTime(raw, nowMs);
    return r.ok ? ok({ raw, value: r.value }) : r;
  },
  measure: (raw, d) => ok({ raw, value: decimal(raw, d.decimals ?? 0), unit: d.unit ?? '' }),
  amount: (raw, d) => ok({ raw, value: decimal(raw, d.decimals ?? 0) }),
  'amount-iso': (raw, d) =>
    ok({ raw, value: decimal(raw.slice(3), d.decimals ?? 0), currency: currencyCode(raw.slice(0, 3)) }),
};

const NUMERIC_KINDS = new Set<AiDef['kind']>([
  'id',
  'digits',
  'date',
  'datetime',
  'count',
  'measure',
  'amount',
  'amount-iso',
]);

/**
 * Checks one AI's data (length, character set, check digit, date) and types it. Pure; the reference
 * time `nowMs` only decides the century of two-digit years.
 */
export function parseAiValue(d: AiDef, raw: string, nowMs: number): Result<Gs1Value, Gs1Error> {
  const detail = `AI ${d.ai}`;
  if (raw.length < d.min) return err('truncated', detail);
  if (raw.length > d.max) return err('too-long', detail);
  if (NUMERIC_KINDS.has(d.kind) ? !DIGITS.test(raw) : !CSET82.test(raw)) {
    return err(NUMERIC_KINDS.has(d.kind) ? 'not-numeric' : 'bad-character', detail);
  }
  const typed = TYPERS[d.kind](raw, d, nowMs);
  return typed.ok ? typed : err(typed.error, detail);
}
