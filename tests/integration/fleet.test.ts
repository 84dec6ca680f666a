import { describe, expect, it } from 'vitest';
import { GroupTally } from '../../scripts/fleet/central.js';
import { type AcceptedEvent, groupChecks } from '../../scripts/fleet/checks.js';
import { runFleet } from '../../scripts/fleet/fleet.js';
import { formatReport } from '../../scripts/fleet/report.js';
import { EventFactory } from '../../src/events/envelope.js';
import { BATCH_CONTENT_TYPE } from '../../src/uplink/batch.js';
import { CLOUDEVENT_CONTENT_TYPE } from '../../src/uplink/topics.js';

const T0 = Date.UTC(2026, 0, 2, 3, 4, 5);

/** `n` scan events of one gateway with seqs 1..n, serialized as published: [id, payload]. */
function events(store: string, n: number): [string, string][] {
  const factory = new EventFactory({ storeId: store, gatewayId: 'gw-1' });
  return Array.from({ length: n }, (_, i) => {
    const ev = factory.create(
      'retail.scan.v1',
      'lane-1',
      { deviceId: 'lane-1', text: `code-${i}`, symbology: 'code-128' },
      T0,
    );
    return [ev.id, factory.serialize(ev, i + 1)];
  });
}

const topic = (store: string) => `stores/${store}/gateways/gw-1/events/scan/lane-1`;

/**
 * A small fleet run (`npm run fleet` with 3 gateways): three gateway processes with simulated POS
 * lanes, one Mosquitto, two shared subscription groups of two consumers each. One gateway sends
 * CloudEvents batches, the others single events. Every accepted transaction must reach each group
 * exactly once after dedupe by id, with no seq gap per gateway.
 */
describe('fleet checks', () => {
  const a = events('1001', 5);
  const b = events('1002', 3);
  const accepted = new Map<string, AcceptedEvent>([
    ...a.map(([id], i): [string, AcceptedEvent] => [id, { gateway: '1001/gw-1', seq: i + 1 }]),
    ...b.map(([id], i): [string, AcceptedEvent] => [id, { gateway: '1002/gw-1', seq: i + 1 }]),
  ]);
  const lastSeq = new Map([
    ['1001/gw-1', 5],
    ['1002/gw-1', 3],
  ]);
  const failing = (g: GroupTally) =>
    groupChecks(g, accepted, lastSeq, 2)
      .filter((c) => !c.pass)
      .map((c) => c.name.split(': ')[1]);

  it('pass for single events and batches, with a redelivery dropped', () => {
    const g = new GroupTally('g');
    for (const [, payload] of a)
      g.onMessage('c-1', topic('1001'), Buffer.from(payload), CLOUDEVENT_CONTENT_TYPE);
    g.onMessage('c-1', topic('1001'), Buffer.from(a[2]?.[1] as string), CLOUDEVENT_CONTENT_TYPE);
    g.onMessage('c-2', topic('1002'), Buffer.from(`[${b.map(([, p]) => p).join(',')}]`), BATCH_CONTENT_TYPE);
    expect(failing(g)).toEqual([]);
    expect(g.duplicates).toBe(1);
    expect(g.batches).toBe(1);
  });

  it('fail on a lost event, a seq gap, a misrouted event and an idle group member', () => {
    const g = new GroupTally('g');
    for (const [id, payload] of a)
      if (id !== a[2]?.[0]) g.onMessage('c-1', topic('1001'), Buffer.from(payload));
    for (const [, payload] of b) g.onMessage('c-1', topic('1001'), Buffer.from(payload));
    expect(failing(g).sort()).toEqual([
      'every accepted event consumed once after dedupe by id',
      "every event valid and on its own gateway's topic",
      'per-gateway seq 1..last with no gap',
      "the group's events shared among its 2 members",
    ]);
  });
});

describe('fleet run', () => {
  it('3 gateways: every accepted event once per group, no seq gap, spread over the group members', async () => {
    const result = await runFleet({
      gateways: 3,
      durationSec: 5,
      ratePerGateway: 10,
      lanes: 2,
      groups: 2,
      consumersPerGroup: 2,
      startConcurrency: 3,
      drainTimeoutSec: 60,
      // The first gateway sends every event in a CloudEvents batch, the others one event per message.
      batchThreshold: 0,
      batchGateways: 1,
    });
    const report = formatReport(result);
    process.stdout.write(`${report}\n`);

    expect(result.started).toBe(3);
    expect(result.accepted).toBeGreaterThan(0);
    const failed = result.checks.filter((c) => !c.pass).map((c) => `${c.name}: ${c.detail}`);
    expect(failed).toEqual([]);
    expect(result.pass).toBe(true);
    const names = result.checks.map((c) => c.name);
    for (const group of ['central-1', 'central-2']) {
      expect(names).toContain(`${group}: every accepted event consumed once after dedupe by id`);
      expect(names).toContain(`${group}: per-gateway seq 1..last with no gap`);
    }
    // Each group holds every accepted event, from batches and single messages; its two members share them.
    expect(result.gateways.batches).toBeGreaterThan(0);
    for (const group of result.groups) {
      expect(group.batches).toBeGreaterThan(0);
      expect(group.messages).toBeGreaterThan(group.batches);
      expect(group.unique).toBe(result.accepted);
      expect(group.invalid).toBe(0);
      expect(Object.values(group.perConsumer)).toHaveLength(2);
      expect(Object.values(group.perConsumer).reduce((a, b) => a + b, 0)).toBe(group.deliveries);
    }
  }, 180_000);
});
