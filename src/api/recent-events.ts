import type { OutboxRow } from '../buffer/outbox.js';
import { Ring } from '../stream/ring.js';

/** One recent event as the status page shows it: what happened, never who. */
export interface EventSummary {
  seq: number;
  class: string;
  device: string;
  type: string;
  time: string;
  /** A short, human-readable line built from fields that carry no personal data. */
  summary: string;
}

type Data = Record<string, unknown>;
const str = (v: unknown) => (typeof v === 'string' || typeof v === 'number' ? String(v) : '');
const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);
const words = (...parts: unknown[]) =>
  parts
    .map(str)
    .filter((p) => p !== '')
    .join(' ');

/** Scan categories (identity.enabled) whose barcode text identifies a shopper or pays. */
const PERSONAL_SCANS = new Set(['loyalty', 'payment-token']);

/** A scan: symbology and code; a loyalty card, payment token or URL only by what it is. */
function scanSummary(d: Data): string {
  if (d.sensitive !== undefined || PERSONAL_SCANS.has(str(d.category))) {
    return words(d.symbology, `[${str(d.category) || 'withheld'}]`, d.scheme);
  }
  const code = str(d.gtin ?? d.text).replace(/\p{Cc}/gu, '␝');
  // A URL may carry a personal token in its path or query: its scheme and host only.
  if (d.category === 'url')
    return words(d.symbology, '[url]', clip(/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i.exec(code)?.[0] ?? '', 48));
  return words(d.symbology, clip(code, 48));
}

/**
 * What the page may show of each event type, picked field by field: a scan's symbology and code
 * (a loyalty card or payment token only by its category), a POS lane's transaction number and
 * total (never the loyalty account or the operator), a presence subject's zone and kind (never the
 * pseudonym), how and where a shopper was identified (never who). Unknown types show their type only.
 */
const SUMMARIES: Record<string, (d: Data) => string> = {
  'retail.scan.v1': scanSummary,
  'retail.device.status.v1': (d) =>
    words(d.state, d.reason === undefined ? '' : `(${clip(str(d.reason), 80)})`),
  'retail.gateway.alarm.v1': (d) => words(d.severity, d.alarm),
  'retail.pos.transaction.v1': (d) => {
    const totals = (d.totals ?? {}) as Data;
    const lines = Array.isArray(d.lineItems) ? d.lineItems.length : 0;
    return words(`#${str(d.sequenceNumber)}`, `${lines} lines`, totals.grand, d.currencyCode);
  },
  'retail.presence.enter.v1': (d) => words(d.subjectType, d.source, '→', d.zone),
  'retail.presence.exit.v1': (d) => words(d.subjectType, d.source, '←', d.zone),
  'retail.presence.dwell.v1': (d) => words(d.subjectType, d.source, 'in', d.zone),
  'retail.beacon.health.v1': (d) => words(d.beaconId, d.status),
  'retail.loyalty.identified.v1': (d) => words(d.method, d.scheme, 'at', d.lane),
  'retail.coupon.scanned.v1': (d) => words(d.format, d.valid === false ? 'invalid' : 'valid', 'at', d.lane),
  'retail.presence.identified.v1': (d) => words(d.source, d.method),
};

export function summarize(row: OutboxRow): EventSummary {
  const [seq, cls, device, payload] = row;
  let ev: { type?: unknown; time?: unknown; data?: unknown } = {};
  try {
    ev = JSON.parse(payload) as typeof ev;
  } catch {
    // An unreadable payload still shows its seq, class and device.
  }
  const type = str(ev.type);
  const pick = SUMMARIES[type];
  const data = ev.data && typeof ev.data === 'object' ? (ev.data as Data) : {};
  return { seq, class: cls, device, type, time: str(ev.time), summary: pick ? pick(data) : '' };
}

/**
 * The last few committed events, for the status page. Rows are kept as committed (the Ring of the
 * live stream, bounded by count and bytes) and summarised only when the page asks, so the hot
 * path costs one array push per commit.
 */
export class RecentEvents {
  private readonly ring: Ring;

  constructor(max: number, startSeq: number) {
    this.ring = new Ring(max, 1024 * 1024, startSeq);
  }

  readonly onCommitted = (rows: readonly OutboxRow[]): void => this.ring.push(rows);

  get lastSeq(): number {
    return this.ring.lastSeq;
  }

  /** Summaries of the events after `afterSeq` still kept, oldest first, at most `limit`. */
  after(afterSeq: number, limit: number): EventSummary[] {
    const rows = this.ring.after(afterSeq, Number.MAX_SAFE_INTEGER);
    return rows.slice(Math.max(0, rows.length - limit)).map(summarize);
  }
}
