import { err, ok, type Result } from '../result.js';
import { AI_TABLE, identifyAi, isAiCode } from './ai-table.js';
import { type Gs1Element, type Gs1Error, parseAiValue } from './ai-values.js';
import { ElementList } from './element-string.js';

export type DigitalLinkError = Gs1Error | 'not-digital-link' | 'bad-encoding';

/** Primary keys the gateway resolves, with their path qualifiers in the only allowed order. */
const QUALIFIERS: Record<string, readonly string[]> = {
  '01': ['22', '10', '21'],
  '00': [],
};

// scheme://authority path ?query #fragment. Parsed by hand: URL normalises "." segments away.
const URI = /^https?:\/\/([^/?#]*)([^?#]*)(?:\?([^#]*))?(?:#.*)?$/is;

export const isHttpUri = (text: string) => /^https?:\/\//i.test(text);

function decode(s: string): string | null {
  try {
    return decodeURIComponent(s);
  } catch {
    return null;
  }
}

/** The key value in the path: a GTIN-8/12/13/14 (padded to 14 digits) or an SSCC. */
function primaryValue(ai: string, segment: string): string | null {
  const v = decode(segment);
  if (v === null || !/^[0-9]+$/.test(v)) return null;
  if (ai === '00') return v.length === 18 ? v : null;
  return v.length === 8 || (v.length >= 12 && v.length <= 14) ? v.padStart(14, '0') : null;
}

/** Finds `…/{primary}/{value}[/{qualifier}/{value}]…` at the end of the path, after any prefix. */
function findPath(segments: readonly string[]): { pairs: [string, string][] } | null {
  for (let start = 0; start + 1 < segments.length; start++) {
    const ai = segments[start] as string;
    const allowed = QUALIFIERS[ai];
    if (!allowed) continue;
    const key = primaryValue(ai, segments[start + 1] as string);
    if (key === null) continue;
    if ((segments.length - start) % 2 !== 0) continue;
    const pairs: [string, string][] = [[ai, key]];
    let order = -1;
    let fits = true;
    for (let k = start + 2; k < segments.length && fits; k += 2) {
      const at = allowed.indexOf(segments[k] as string);
      fits = at > order;
      order = at;
      pairs.push([segments[k] as string, segments[k + 1] as string]);
    }
    if (fits) return { pairs };
  }
  return null;
}

function element(
  ai: string,
  encoded: string,
  nowMs: number,
  decoded = false,
): Result<Gs1Element, DigitalLinkError> {
  const raw = decoded ? encoded : decode(encoded);
  if (raw === null) return err('bad-encoding', `AI ${ai}`);
  const def = AI_TABLE.get(ai) ?? identifyAi(ai, 0)?.def;
  if (!def) return err('unknown-ai', `AI ${ai}`);
  const value = parseAiValue(def, raw, nowMs);
  return value.ok ? ok(Object.assign({ ai }, value.value)) : value;
}

/**
 * Parses a GS1 Digital Link URI: any host and path prefix, then a primary key (01 GTIN with
 * qualifiers 22, 10, 21 in that order, or 00 SSCC), then AIs as query parameters. Query parameters
 * that are not AIs (linkType, utm_…) are ignored. `not-digital-link` when the URI has no such path.
 */
export function parseDigitalLink(
  uri: string,
  opts: { nowMs: number },
): Result<Gs1Element[], DigitalLinkError> {
  const m = URI.exec(uri);
  if (!m) return err('not-digital-link');
  const segments = (m[2] ?? '').split('/').slice(1);
  if (segments.at(-1) === '') segments.pop();
  const path = findPath(segments);
  if (!path) return err('not-digital-link');
  const out = new ElementList();
  for (const [n, [ai, encoded]] of path.pairs.entries()) {
    const el = element(ai, encoded, opts.nowMs, n === 0);
    if (!el.ok) return el;
    const added = out.add(el.value);
    if (!added.ok) return added;
  }
  for (const param of (m[3] ?? '').split('&')) {
    const eq = param.indexOf('=');
    const key = eq < 0 ? param : param.slice(0, eq);
    if (!isAiCode(key)) continue;
    const el = element(key, eq < 0 ? '' : param.slice(eq + 1), opts.nowMs);
    if (!el.ok) return el;
    const added = out.add(el.value);
    if (!added.ok) return added;
  }
  return ok(out.elements);
}

/**
 * The Digital Link URI for `elements` (which must hold a 01 GTIN or a 00 SSCC): the key and its
 * qualifiers in the path, every other AI in the query. `null` without a primary key.
 */
export function encodeDigitalLink(
  elements: readonly Pick<Gs1Element, 'ai' | 'raw'>[],
  base = 'https://id.gs1.org',
): string | null {
  const primary = elements.find((e) => e.ai === '01') ?? elements.find((e) => e.ai === '00');
  if (!primary) return null;
  const qualifiers = QUALIFIERS[primary.ai] ?? [];
  let path = `/${primary.ai}/${primary.raw}`;
  for (const q of qualifiers) {
    const e = elements.find((x) => x.ai === q);
    if (e) path += `/${q}/${encodeURIComponent(e.raw)}`;
  }
  const query = elements
    .filter((e) => e !== primary && !qualifiers.includes(e.ai))
    .map((e) => `${e.ai}=${encodeURIComponent(e.raw)}`);
  return `${base}${path}${query.length > 0 ? `?${query.join('&')}` : ''}`;
}
