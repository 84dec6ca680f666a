import { err, ok, type Result } from '../result.js';
import { identifyAi } from './ai-table.js';
import { type Gs1Element, type Gs1Error, type Gs1Value, parseAiValue } from './ai-values.js';

/** FNC1 as scanners transmit it between variable-length fields. */
export const GS = '\u001d';

/** Collects elements: the same AI twice with the same value is kept once, with another value is an error. */
export class ElementList {
  readonly elements: Gs1Element[] = [];
  private readonly seen = new Map<string, string>();

  add(el: Gs1Element): Result<Gs1Element[], Gs1Error> {
    const prior = this.seen.get(el.ai);
    if (prior !== undefined) return prior === el.raw ? ok(this.elements) : err('duplicate-ai', `AI ${el.ai}`);
    this.seen.set(el.ai, el.raw);
    this.elements.push(el);
    return ok(this.elements);
  }
}

/**
 * Parses a GS1 element string as a scanner sends it after ]C1, ]e0, ]d2, ]Q3 or ]J1: the leading
 * FNC1 is implied (a transmitted one is tolerated), fields of predefined length run on, and every
 * other field ends with GS or at the end. Pure; `nowMs` only places two-digit years in a century.
 */
export function parseElementString(text: string, opts: { nowMs: number }): Result<Gs1Element[], Gs1Error> {
  let i = text.startsWith(GS) ? 1 : 0;
  if (i >= text.length) return err('empty');
  const out = new ElementList();
  while (i < text.length) {
    const found = identifyAi(text, i);
    if (!found) return err('unknown-ai', `at ${i}`);
    const { ai, def } = found;
    i += ai.length;
    let raw: string;
    if (def.fixed) {
      raw = text.slice(i, i + def.max);
      const gs = raw.indexOf(GS);
      if (gs >= 0) raw = raw.slice(0, gs);
      i += raw.length;
      // A separator after a predefined-length field is not needed, but some encoders add one.
      if (text[i] === GS) i++;
    } else {
      const end = text.indexOf(GS, i);
      raw = text.slice(i, end < 0 ? text.length : end);
      i = end < 0 ? text.length : end + 1;
    }
    const value = parseAiValue(def, raw, opts.nowMs);
    if (!value.ok) return value;
    const added = out.add(Object.assign({ ai }, value.value));
    if (!added.ok) return added;
  }
  return ok(out.elements);
}

/** The element string for `elements` (no leading FNC1): GS after each variable-length field but the last. */
export function encodeElementString(elements: readonly Pick<Gs1Element, 'ai' | 'raw'>[]): string {
  let out = '';
  elements.forEach((e, n) => {
    out += e.ai + e.raw;
    const fixed = identifyAi(e.ai, 0)?.def.fixed ?? false;
    if (!fixed && n < elements.length - 1) out += GS;
  });
  return out;
}

/** Elements keyed by AI, the shape of `gs1` in `retail.scan.v1` data. */
export function gs1Map(elements: readonly Gs1Element[]): Record<string, Gs1Value> {
  const map: Record<string, Gs1Value> = {};
  for (const e of elements) {
    const v: Gs1Value = { raw: e.raw, value: e.value };
    if (e.unit !== undefined) v.unit = e.unit;
    if (e.currency !== undefined) v.currency = e.currency;
    map[e.ai] = v;
  }
  return map;
}
