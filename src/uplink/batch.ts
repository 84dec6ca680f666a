import type { OutboxRow } from '../buffer/outbox.js';

/**
 * CloudEvents batched content mode (docs/TOPICS.md): one MQTT message holds a JSON array of events,
 * each exactly as stored in the outbox. Everything here is pure.
 */

/** Content type of a batch (MQTT 5 content-type property). */
export const BATCH_CONTENT_TYPE = 'application/cloudevents-batch+json; charset=utf-8';

export interface BatchLimits {
  /** Most events in one batch. */
  maxEvents: number;
  /** Largest payload in bytes (UTF-8), brackets and commas included. */
  maxBytes: number;
}

export interface Run {
  /** Index after the last row of the batch (exclusive). */
  end: number;
  /** UTF-8 size of the batch payload. */
  bytes: number;
}

/** UTF-8 byte length of a JavaScript string, without encoding it. */
export function utf8Length(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/**
 * The batch that starts at `rows[start]`: the consecutive rows of the same class and device, as
 * many as `limits` allow. It always holds at least the first row, even one larger than
 * `maxBytes` on its own. The payload is `[` + the events joined by `,` + `]`.
 */
export function packRun(
  rows: readonly OutboxRow[],
  start: number,
  limits: BatchLimits,
  sizeOf: (payload: string) => number = utf8Length,
): Run {
  const first = rows[start];
  if (!first) throw new RangeError(`no row at ${start}`);
  const [, cls, device] = first;
  const stop = Math.min(rows.length, start + Math.max(1, limits.maxEvents));
  let bytes = 2 + sizeOf(first[3]);
  let end = start + 1;
  while (end < stop) {
    const row = rows[end] as OutboxRow;
    if (row[1] !== cls || row[2] !== device) break;
    const next = bytes + 1 + sizeOf(row[3]);
    if (next > limits.maxBytes) break;
    bytes = next;
    end++;
  }
  return { end, bytes };
}

/** The payload of the batch `rows[start..end)`: every event byte-identical to its stored form. */
export function serializeBatch(rows: readonly OutboxRow[], start: number, end: number): string {
  let out = '[';
  for (let i = start; i < end; i++) {
    if (i > start) out += ',';
    out += (rows[i] as OutboxRow)[3];
  }
  return `${out}]`;
}

/**
 * True when a payload is a batch: its first byte that is not JSON whitespace is `[`. This is the
 * marker on MQTT 3.1.1, which has no content-type property; a single event starts with `{`.
 */
export function isBatchPayload(payload: Buffer | string): boolean {
  const n = payload.length;
  for (let i = 0; i < n; i++) {
    const c = typeof payload === 'string' ? payload.charCodeAt(i) : (payload[i] as number);
    if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) continue;
    return c === 0x5b;
  }
  return false;
}

/** Bytes of an MQTT variable byte integer. */
function varIntBytes(n: number): number {
  return n < 128 ? 1 : n < 16_384 ? 2 : n < 2_097_152 ? 3 : 4;
}

/**
 * The largest payload a QoS 1 PUBLISH to `topic` may carry when the broker accepts packets of at
 * most `maxPacketSize` bytes (MQTT 5 CONNACK Maximum Packet Size): fixed header, topic, packet id
 * and, on MQTT 5, the properties (here only the content type) come off. The remaining-length field
 * is counted at its largest (4 bytes), so the answer is never too large.
 */
export function payloadLimit(maxPacketSize: number, topic: string, contentType?: string): number {
  const topicBytes = 2 + utf8Length(topic);
  const props = contentType === undefined ? -1 : 1 + 2 + utf8Length(contentType);
  const propsField = props < 0 ? 0 : varIntBytes(props) + props;
  return maxPacketSize - (1 + 4) - topicBytes - 2 - propsField;
}
