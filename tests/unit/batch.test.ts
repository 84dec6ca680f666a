import fc from 'fast-check';
import { generate } from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import type { OutboxRow } from '../../src/buffer/outbox.js';
import { formatSummary } from '../../src/cli/tail.js';
import { checkMessage, SeqTracker } from '../../src/consumer/consumer.js';
import type { EventClass } from '../../src/events/catalog.js';
import { EventFactory } from '../../src/events/envelope.js';
import {
  BATCH_CONTENT_TYPE,
  isBatchPayload,
  packRun,
  payloadLimit,
  serializeBatch,
  utf8Length,
} from '../../src/uplink/batch.js';
import { CLOUDEVENT_CONTENT_TYPE } from '../../src/uplink/topics.js';

const factory = new EventFactory({ storeId: '0421', gatewayId: 'gw-1' });
const T0 = Date.UTC(2026, 10, 24, 8, 6, 51, 951);

/** A stored row exactly as the outbox holds it: the serialized envelope with its seq. */
function scanRow(
  seq: number,
  device = 'lane-1',
  text = `40063813${String(seq).padStart(5, '0')}`,
): OutboxRow {
  const ev = factory.create('retail.scan.v1', device, { deviceId: device, text, symbology: 'unknown' }, T0);
  return [seq, 'scan', device, factory.serialize(ev, seq)];
}

function statusRow(seq: number, device = 'lane-1'): OutboxRow {
  const ev = factory.create(
    'retail.device.status.v1',
    device,
    { deviceId: device, kind: 'serial-scanner', state: 'connected', path: '/dev/ttyACM0', attempt: 0 },
    T0,
  );
  return [seq, 'device' as EventClass, device, factory.serialize(ev, seq)];
}

const rowsOf = (n: number, from = 1) => Array.from({ length: n }, (_, i) => scanRow(from + i));
const big = { maxEvents: 1_000_000, maxBytes: 1 << 30 };

describe('packRun: which rows go into one batch', () => {
  it('takes consecutive rows of one stream up to maxEvents', () => {
    const rows = rowsOf(10);
    expect(packRun(rows, 0, { maxEvents: 4, maxBytes: 1 << 20 }).end).toBe(4);
    expect(packRun(rows, 4, { maxEvents: 4, maxBytes: 1 << 20 }).end).toBe(8);
    expect(packRun(rows, 8, { maxEvents: 4, maxBytes: 1 << 20 }).end).toBe(10);
    expect(packRun(rows, 0, big).end).toBe(10);
  });

  it('stops where the class or the device changes', () => {
    const rows = [scanRow(1), scanRow(2), scanRow(3, 'lane-2'), scanRow(4, 'lane-2'), statusRow(5, 'lane-2')];
    expect(packRun(rows, 0, big).end).toBe(2);
    expect(packRun(rows, 2, big).end).toBe(4);
    expect(packRun(rows, 4, big).end).toBe(5);
  });

  it('counts bytes exactly: brackets, commas and UTF-8, and never goes over maxBytes', () => {
    const rows = [scanRow(1, 'lane-1', 'ÄÖÜ-€-1'), scanRow(2, 'lane-1', 'ÄÖÜ-€-2'), scanRow(3)];
    const all = packRun(rows, 0, big);
    const payload = serializeBatch(rows, 0, all.end);
    expect(all.end).toBe(3);
    expect(all.bytes).toBe(Buffer.byteLength(payload));
    expect(all.bytes).toBeGreaterThan(payload.length); // multi-byte characters were counted as such

    // One byte less than three rows need: two fit.
    const two = packRun(rows, 0, { maxEvents: 10, maxBytes: all.bytes - 1 });
    expect(two.end).toBe(2);
    expect(two.bytes).toBe(Buffer.byteLength(serializeBatch(rows, 0, 2)));
    // Exactly what three rows need: three fit.
    expect(packRun(rows, 0, { maxEvents: 10, maxBytes: all.bytes }).end).toBe(3);
  });

  it('always takes the first row, even one larger than maxBytes alone', () => {
    const rows = rowsOf(3);
    const run = packRun(rows, 1, { maxEvents: 10, maxBytes: 10 });
    expect(run).toEqual({ end: 2, bytes: utf8Length((rows[1] as OutboxRow)[3]) + 2 });
  });

  it('respects every limit for any mix of streams and sizes (property)', () => {
    const devices = ['a', 'b'];
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom(...devices), fc.string({ maxLength: 40 })), {
          minLength: 1,
          maxLength: 40,
        }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 200, max: 4000 }),
        (spec, maxEvents, maxBytes) => {
          const rows = spec.map(([d, t], i) => scanRow(i + 1, d, t || 'x'));
          let start = 0;
          const seen: number[] = [];
          while (start < rows.length) {
            const { end, bytes } = packRun(rows, start, { maxEvents, maxBytes });
            const members = rows.slice(start, end);
            expect(end).toBeGreaterThan(start);
            expect(end - start).toBeLessThanOrEqual(maxEvents);
            expect(new Set(members.map((r) => `${r[1]}/${r[2]}`)).size).toBe(1);
            expect(bytes).toBe(Buffer.byteLength(serializeBatch(rows, start, end)));
            if (end - start > 1) expect(bytes).toBeLessThanOrEqual(maxBytes);
            // Maximal: the next row would break a limit or change the stream.
            const next = rows[end];
            if (next && next[2] === (rows[start] as OutboxRow)[2] && end - start < maxEvents)
              expect(bytes + 1 + utf8Length(next[3])).toBeGreaterThan(maxBytes);
            seen.push(...members.map((r) => r[0]));
            start = end;
          }
          // Every row once, in seq order.
          expect(seen).toEqual(rows.map((r) => r[0]));
        },
      ),
    );
  });
});

describe('serializeBatch', () => {
  it('is a JSON array of the stored events, each byte-identical to its stored form', () => {
    const rows = [scanRow(7), scanRow(8, 'lane-1', '010950600013435217291231\u001d10ABC123'), scanRow(9)];
    const payload = serializeBatch(rows, 0, 3);
    expect(payload).toBe(`[${rows.map((r) => r[3]).join(',')}]`);
    const parsed = JSON.parse(payload) as unknown[];
    expect(parsed.map((e) => JSON.stringify(e))).toEqual(rows.map((r) => r[3]));
    expect(serializeBatch(rows, 1, 2)).toBe(`[${(rows[1] as OutboxRow)[3]}]`);
  });
});

describe('isBatchPayload: the MQTT 3.1.1 marker', () => {
  it('is true when the first non-space byte is [', () => {
    for (const p of ['[{}]', ' \t\r\n[', Buffer.from('\n [1]')]) expect(isBatchPayload(p)).toBe(true);
    for (const p of ['{"a":[1]}', '  {', '', '   ', Buffer.from('x[')]) expect(isBatchPayload(p)).toBe(false);
  });
});

describe('payloadLimit: what fits in the broker Maximum Packet Size', () => {
  it('takes off the fixed header, topic, packet id and properties', () => {
    const topic = 'stores/0421/gateways/gw-1/events/scan/lane-1';
    const props = 1 + 2 + BATCH_CONTENT_TYPE.length;
    // fixed header 1 + remaining length at most 4 + topic length 2 + topic + packet id 2 + props length 1 + props
    expect(payloadLimit(10_000, topic, BATCH_CONTENT_TYPE)).toBe(
      10_000 - 5 - 2 - topic.length - 2 - 1 - props,
    );
    // MQTT 3.1.1: no properties at all.
    expect(payloadLimit(10_000, topic)).toBe(10_000 - 5 - 2 - topic.length - 2);
  });

  it('a PUBLISH with a payload of that size, encoded by mqtt.js, fits the limit (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 512, max: 3_000_000 }),
        fc.string({ minLength: 1, maxLength: 200 }).map((s) => `stores/0421/gateways/gw-1/events/scan/${s}`),
        fc.boolean(),
        (maxPacketSize, topic, v5) => {
          const limit = payloadLimit(maxPacketSize, topic, v5 ? BATCH_CONTENT_TYPE : undefined);
          const packet = generate(
            {
              cmd: 'publish',
              qos: 1,
              dup: false,
              retain: false,
              messageId: 65535,
              topic,
              payload: Buffer.alloc(limit, 0x5b),
              ...(v5 ? { properties: { contentType: BATCH_CONTENT_TYPE } } : {}),
            },
            { protocolVersion: v5 ? 5 : 4 },
          );
          expect(packet.length).toBeLessThanOrEqual(maxPacketSize);
          // At most the 3 bytes a shorter remaining-length field leaves unused.
          expect(packet.length).toBeGreaterThanOrEqual(maxPacketSize - 3);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('the tail summary', () => {
  const counts = { received: 5, invalid: 0, duplicates: 1, gaps: 2, messages: 5, batches: 0 };
  it('mentions batches only when some arrived', () => {
    expect(formatSummary(counts)).toBe('5 events, 0 invalid, 1 duplicates, 2 missing');
    expect(formatSummary({ ...counts, received: 1200, messages: 3, batches: 3 })).toBe(
      '1200 events (3 batches), 0 invalid, 1 duplicates, 2 missing',
    );
    expect(formatSummary({ ...counts, messages: 1, batches: 1 })).toBe(
      '5 events (1 batch), 0 invalid, 1 duplicates, 2 missing',
    );
  });
});

describe('checkMessage: both forms', () => {
  const rows = [scanRow(1), scanRow(2), statusRow(3)];

  it('reads a batch by content type or, without one, by its marker', () => {
    const batch = serializeBatch(rows, 0, 2);
    for (const ct of [BATCH_CONTENT_TYPE, 'application/cloudevents-batch+json', undefined]) {
      const r = checkMessage(Buffer.from(batch), ct);
      expect(r.batch).toBe(true);
      expect(r.events.map((e) => e.issues)).toEqual([[], []]);
      expect(r.events.map((e) => e.event?.seq)).toEqual([1, 2]);
    }
  });

  it('reads a single event by content type or marker', () => {
    for (const ct of [CLOUDEVENT_CONTENT_TYPE, undefined]) {
      const r = checkMessage((rows[2] as OutboxRow)[3], ct);
      expect(r).toMatchObject({ batch: false, events: [{ issues: [], event: { seq: 3 } }] });
    }
  });

  it('checks each event of a batch on its own, by path inside the event', () => {
    const bad = JSON.parse((rows[1] as OutboxRow)[3]) as Record<string, unknown>;
    bad.seq = 0;
    const payload = `[${(rows[0] as OutboxRow)[3]},${JSON.stringify(bad)},42]`;
    const r = checkMessage(payload);
    expect(r.batch).toBe(true);
    expect(r.events[0]?.issues).toEqual([]);
    expect(r.events[1]?.issues.map((i) => i.path)).toEqual(['/seq']);
    expect(r.events[2]).toEqual({ event: null, issues: [{ path: '/', message: 'not a JSON object' }] });
  });

  it('reports an unreadable or empty batch as one invalid entry', () => {
    expect(checkMessage('[{"a":', BATCH_CONTENT_TYPE).events[0]?.issues[0]?.message).toMatch(/^not JSON/);
    expect(checkMessage('[]').events).toEqual([
      { event: null, issues: [{ path: '/', message: 'a batch must be a non-empty JSON array' }] },
    ]);
  });
});

describe('SeqTracker: gaps when live events run ahead of the backlog', () => {
  it('opens a hole for a jump and closes it as the older events arrive', () => {
    const t = new SeqTracker();
    expect(t.add(1)).toEqual({ opened: 0, filled: false });
    expect(t.add(2)).toEqual({ opened: 0, filled: false });
    // A live event while seqs 3..9 are still in the backlog.
    expect(t.add(10)).toEqual({ opened: 7, filled: false });
    expect(t.missing).toBe(7);
    expect(t.add(11)).toEqual({ opened: 0, filled: false });
    for (const s of [3, 4, 5, 6, 7, 8]) expect(t.add(s).filled).toBe(true);
    expect(t.missing).toBe(1);
    expect(t.add(9)).toEqual({ opened: 0, filled: true });
    expect(t.missing).toBe(0);
    expect(t.add(5)).toEqual({ opened: 0, filled: false }); // seen before
    expect(t.missing).toBe(0);
  });

  it('counts exactly the seqs never received, whatever the arrival order (property)', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 200 }),
        (arrivals) => {
          const t = new SeqTracker();
          let gaps = 0;
          for (const s of arrivals) {
            const r = t.add(s);
            gaps += r.opened - (r.filled ? 1 : 0);
          }
          const lo = Math.min(...arrivals);
          const hi = Math.max(...arrivals);
          expect(t.missing).toBe(hi - lo + 1 - arrivals.length);
          expect(gaps).toBe(t.missing);
        },
      ),
    );
  });
});
