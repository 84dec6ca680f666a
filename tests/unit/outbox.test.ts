import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Outbox, type OutboxDeps, type OutboxOptions } from '../../src/buffer/outbox.js';
import { SeqReservation } from '../../src/buffer/seq-reservation.js';
import { type Clock, systemClock } from '../../src/clock.js';
import { checkEvent } from '../../src/consumer/consumer.js';
import { type GatewayError, isGatewayError } from '../../src/errors.js';
import type { EventType } from '../../src/events/catalog.js';
import { EventFactory, type PendingEvent } from '../../src/events/envelope.js';
import { silentLogger } from '../../src/logger.js';
import { Metrics } from '../../src/metrics.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const MiB = 1024 * 1024;
const factory = new EventFactory({ storeId: '0421', gatewayId: 'gw-1' });

const dirs: { cleanup: () => void }[] = [];
const outboxes: Outbox[] = [];

afterEach(() => {
  vi.useRealTimers();
  for (const o of outboxes.splice(0)) if (o.isOpen) o.close();
  for (const d of dirs.splice(0)) d.cleanup();
});

function newDir(): string {
  const dir = tmpDir('sg-outbox-');
  dirs.push(dir);
  return dir.path;
}

function options(path: string, over: Partial<OutboxOptions> = {}): OutboxOptions {
  return {
    path,
    synchronous: 'NORMAL',
    maxBytes: 64 * MiB,
    minFreeBytes: 0,
    reserveBytes: 256 * 1024,
    commitIntervalMs: 2,
    commitMaxRows: 500,
    ...over,
  };
}

function deps(over: Partial<OutboxDeps> = {}): OutboxDeps {
  return {
    log: silentLogger(),
    metrics: new Metrics(),
    factory,
    clock: systemClock,
    freeDiskBytes: () => 1e15,
    ...over,
  };
}

function open(opts: OutboxOptions, d: OutboxDeps): Outbox {
  const ob = Outbox.open(opts, d);
  outboxes.push(ob);
  return ob;
}

/** A fresh outbox in its own temp dir. */
function setup(over: Partial<OutboxOptions> = {}, depsOver: Partial<OutboxDeps> = {}) {
  const path = join(newDir(), 'buffer.db');
  const opts = options(path, over);
  const d = deps(depsOver);
  return { ob: open(opts, d), opts, deps: d, path };
}

const scan = (text = '4006381333931', device = 'lane-1') =>
  factory.create('retail.scan.v1', device, { deviceId: device, text, symbology: 'unknown' }, Date.now());

const status = () =>
  factory.create(
    'retail.device.status.v1',
    'lane-1',
    { deviceId: 'lane-1', kind: 'serial-scanner', state: 'disconnected', reason: 'port closed' },
    Date.now(),
  );

/**
 * Presence events are not in the event catalog yet, so EventFactory.create cannot build one. The
 * outbox takes any PendingEvent (it neither validates nor reads the id), so this builds one by hand
 * to exercise the presence policy.
 */
const presence = (n: number, padding = 20_000): PendingEvent => ({
  id: randomUUID(),
  type: 'retail.presence.v1' as EventType,
  cls: 'presence',
  deviceId: 'wifi-1',
  time: new Date().toISOString(),
  dataJson: JSON.stringify({ n, pad: 'p'.repeat(padding) }),
});

const BIG = 'x'.repeat(60_000);

async function refusal(p: Promise<number>): Promise<GatewayError> {
  try {
    const seq = await p;
    throw new Error(`expected a refusal, got seq ${seq}`);
  } catch (err) {
    if (!isGatewayError(err)) throw err;
    return err;
  }
}

/** Accepts big scans one at a time until one is refused; returns the accepted seqs and the refusal. */
async function fillWithScans(ob: Outbox, text = BIG): Promise<{ seqs: number[]; err: GatewayError }> {
  const seqs: number[] = [];
  for (let i = 0; i < 10_000; i++) {
    try {
      seqs.push(await ob.accept(scan(text)));
    } catch (err) {
      if (!isGatewayError(err)) throw err;
      return { seqs, err };
    }
  }
  throw new Error('the buffer never filled');
}

async function metricValue(m: Metrics, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = m.registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  const { values } = await metric.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want))
    .reduce((sum, v) => sum + v.value, 0);
}

interface Row {
  seq: number;
  cls: string;
  device: string;
  event: { type: string; seq: number; data: Record<string, unknown> };
}

function rows(ob: Outbox): Row[] {
  return ob.read(0, 1_000_000).map(([seq, cls, device, payload]) => ({
    seq,
    cls,
    device,
    event: JSON.parse(payload) as Row['event'],
  }));
}

const alarms = (ob: Outbox, alarm?: string) =>
  rows(ob).filter(
    (r) =>
      r.event.type === 'retail.gateway.alarm.v1' && (alarm === undefined || r.event.data.alarm === alarm),
  );

describe('Outbox: accept, read, delete', () => {
  it('resolves accepted events with strictly increasing seq, from 1', async () => {
    const { ob } = setup();
    const seqs = await Promise.all(Array.from({ length: 50 }, (_, i) => ob.accept(scan(`code-${i}`))));
    expect(seqs).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    const more = [];
    for (let i = 0; i < 5; i++) more.push(await ob.accept(scan()));
    expect(more).toEqual([51, 52, 53, 54, 55]);
    expect(ob.lastCommittedSeq).toBe(55);
  });

  it('reads rows in seq order, in pages, as valid CloudEvents carrying their seq', async () => {
    const { ob } = setup();
    await Promise.all([ob.accept(scan('a')), ob.accept(status()), ob.accept(scan('c', 'lane-2'))]);
    const all = ob.read(0, 10);
    expect(all.map(([seq, cls, device]) => [seq, cls, device])).toEqual([
      [1, 'scan', 'lane-1'],
      [2, 'device', 'lane-1'],
      [3, 'scan', 'lane-2'],
    ]);
    for (const [seq, , , payload] of all) {
      const { event, issues } = checkEvent(payload);
      expect(issues).toEqual([]);
      expect(event?.seq).toBe(seq);
    }
    expect(ob.read(0, 2).map((r) => r[0])).toEqual([1, 2]);
    expect(ob.read(2, 2).map((r) => r[0])).toEqual([3]);
    expect(ob.read(3, 2)).toEqual([]);
  });

  it('deletes acknowledged ranges and nothing else', async () => {
    const { ob, deps: d } = setup();
    await Promise.all(Array.from({ length: 6 }, () => ob.accept(scan())));
    ob.deleteRanges([
      [1, 2],
      [4, 4],
    ]);
    expect(ob.read(0, 10).map((r) => r[0])).toEqual([3, 5, 6]);
    expect(ob.stats()).toMatchObject({ rows: 3, oldestSeq: 3, lastSeq: 6 });
    expect(await metricValue(d.metrics, 'sg_buffer_rows')).toBe(3);
    ob.deleteRanges([[1, 100]]);
    expect(ob.stats()).toMatchObject({ rows: 0, oldestSeq: null, lastSeq: 6 });
  });

  it('counts accepted events per class', async () => {
    const { ob, deps: d } = setup();
    await Promise.all([ob.accept(scan()), ob.accept(scan()), ob.accept(status())]);
    expect(await metricValue(d.metrics, 'sg_events_accepted_total', { class: 'scan' })).toBe(2);
    expect(await metricValue(d.metrics, 'sg_events_accepted_total', { class: 'device' })).toBe(1);
  });

  it('moves a row to dead_letter, and never reuses its seq', async () => {
    const { ob, opts, deps: d } = setup();
    await Promise.all([ob.accept(scan()), ob.accept(scan()), ob.accept(scan())]);
    ob.deadLetter(3, 'payload too large');
    expect(ob.read(0, 10).map((r) => r[0])).toEqual([1, 2]);
    expect(ob.stats()).toMatchObject({ rows: 2, deadLetters: 1 });
    ob.close();
    const again = open(opts, d);
    expect(again.stats().deadLetters).toBe(1);
    expect(await again.accept(scan())).toBe(4);
  });

  it('keeps persisted counters across reopen', () => {
    const { ob, opts, deps: d } = setup();
    expect(ob.bump('births')).toBe(1);
    expect(ob.bump('births')).toBe(2);
    ob.close();
    expect(open(opts, d).bump('births')).toBe(3);
  });
});

describe('Outbox: seq across restarts', () => {
  it('continues seq after close and reopen', async () => {
    const { ob, opts, deps: d } = setup();
    for (let i = 0; i < 5; i++) await ob.accept(scan());
    ob.close();
    const again = open(opts, d);
    expect(again.lastCommittedSeq).toBe(5);
    expect(again.read(0, 10).map((r) => r[0])).toEqual([1, 2, 3, 4, 5]);
    expect(await again.accept(scan())).toBe(6);
  });

  it('never reuses a seq, even when every row was deleted before the restart', async () => {
    const { ob, opts, deps: d } = setup();
    for (let i = 0; i < 5; i++) await ob.accept(scan());
    ob.deleteRanges([[1, 5]]);
    ob.close();
    const again = open(opts, d);
    expect(again.stats().rows).toBe(0);
    expect(await again.accept(scan())).toBe(6);
  });

  it('continues above the reservation when the buffer file is lost', async () => {
    const { ob, opts, deps: d, path } = setup();
    for (let i = 0; i < 5; i++) await ob.accept(scan());
    ob.close();
    const reserved = SeqReservation.read(`${path}.seq`);
    expect(reserved).toBeGreaterThanOrEqual(5);
    for (const suffix of ['', '-wal', '-shm']) if (existsSync(path + suffix)) truncateSync(path + suffix, 0);
    const again = open(opts, d);
    expect(await again.accept(scan())).toBe(reserved + 1);
  });

  it('refuses events after close with GW_ERR_BUFFER_CLOSED, counted', async () => {
    const { ob, deps: d } = setup({ commitIntervalMs: 60_000 });
    const pending = ob.accept(scan());
    ob.close();
    expect(await pending).toBe(1);
    expect((await refusal(ob.accept(scan()))).code).toBe('GW_ERR_BUFFER_CLOSED');
    ob.offer(scan());
    expect(await metricValue(d.metrics, 'sg_events_refused_total', { class: 'scan', reason: 'closed' })).toBe(
      2,
    );
  });
});

describe('Outbox: group commit', () => {
  it('commits events offered together in one transaction', async () => {
    const { ob } = setup({ commitIntervalMs: 5 });
    const commits: number[][] = [];
    ob.on('committed', (rows) => commits.push(rows.map((r) => r[0])));
    for (let i = 0; i < 200; i++) ob.offer(scan(`code-${i}`));
    expect(ob.stats()).toMatchObject({ pending: 200, rows: 0 });
    await waitFor(() => commits.length > 0, 'a commit');
    expect(commits).toEqual([Array.from({ length: 200 }, (_, i) => i + 1)]);
    expect(ob.stats()).toMatchObject({ pending: 0, rows: 200, lastSeq: 200 });
  });

  it('flush() commits what is pending at once', () => {
    const { ob } = setup({ commitIntervalMs: 60_000 });
    for (let i = 0; i < 5; i++) ob.offer(scan());
    expect(ob.read(0, 10)).toEqual([]);
    ob.flush();
    expect(ob.read(0, 10).map((r) => r[0])).toEqual([1, 2, 3, 4, 5]);
    expect(ob.stats().pending).toBe(0);
  });

  it('commits synchronously when commitMaxRows events wait', () => {
    const { ob } = setup({ commitIntervalMs: 60_000, commitMaxRows: 3 });
    ob.offer(scan());
    ob.offer(scan());
    expect(ob.stats()).toMatchObject({ pending: 2, rows: 0 });
    ob.offer(scan());
    expect(ob.stats()).toMatchObject({ pending: 0, rows: 3 });
    ob.offer(scan());
    expect(ob.stats()).toMatchObject({ pending: 1, rows: 3 });
  });

  it('commits what is pending on close', () => {
    const { ob, opts, deps: d } = setup({ commitIntervalMs: 60_000 });
    for (let i = 0; i < 4; i++) ob.offer(scan());
    ob.close();
    expect(open(opts, d).read(0, 10)).toHaveLength(4);
  });
});

describe('Outbox: byte budget', () => {
  const small = { maxBytes: 2 * MiB, reserveBytes: 256 * 1024, commitIntervalMs: 1 };

  it('refuses scans with GW_ERR_BUFFER_FULL when full, and loses nothing already accepted', async () => {
    const { ob, deps: d } = setup(small);
    const { seqs, err } = await fillWithScans(ob);
    expect(err.code).toBe('GW_ERR_BUFFER_FULL');
    expect(err.retryable).toBe(true);
    expect(seqs.length).toBeGreaterThan(10);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    // More are refused too, and each is counted.
    expect((await refusal(ob.accept(scan(BIG)))).code).toBe('GW_ERR_BUFFER_FULL');
    ob.flush();
    const scans = rows(ob).filter((r) => r.cls === 'scan');
    expect(scans.map((r) => r.seq)).toEqual(seqs);
    expect(scans.every((r) => r.event.data.text === BIG)).toBe(true);
    expect(ob.stats().fileBytes).toBeLessThanOrEqual(2 * MiB);
    expect(await metricValue(d.metrics, 'sg_events_refused_total', { class: 'scan' })).toBe(2);
    expect(await metricValue(d.metrics, 'sg_events_accepted_total', { class: 'scan' })).toBe(seqs.length);
  });

  it('leaves no seq gap for refused events', async () => {
    const { ob } = setup(small);
    await fillWithScans(ob);
    for (let i = 0; i < 3; i++) await refusal(ob.accept(scan(BIG)));
    ob.flush();
    const last = ob.lastCommittedSeq;
    expect(rows(ob).map((r) => r.seq)).toEqual(Array.from({ length: last }, (_, i) => i + 1));
    ob.deleteRanges([[1, last]]);
    expect(await ob.accept(scan(BIG))).toBe(last + 1);
  });

  it('queues one buffer-full alarm (device "gateway") when refusing starts', async () => {
    const { ob } = setup(small);
    await fillWithScans(ob);
    ob.flush();
    const [alarm, ...more] = alarms(ob, 'buffer-full');
    expect(more).toEqual([]);
    expect(alarm).toMatchObject({ cls: 'device', device: 'gateway' });
    expect(alarm?.event.data).toMatchObject({ alarm: 'buffer-full', severity: 'critical' });
    expect(checkEvent(JSON.stringify(alarm?.event)).issues).toEqual([]);
  });

  it('does not raise the alarm again for every refused event while the buffer stays full', async () => {
    const { ob } = setup(small);
    await fillWithScans(ob);
    ob.flush();
    for (let i = 0; i < 5; i++) {
      await refusal(ob.accept(scan(BIG)));
      ob.flush();
      // Committing the alarm alone (into the reserve) must not count as "room again".
      expect(ob.stats().refusing).toBe(true);
    }
    expect(alarms(ob, 'buffer-full')).toHaveLength(1);
  });

  it('still accepts device events into the reserve while scans are refused', async () => {
    const { ob } = setup(small);
    await fillWithScans(ob);
    const seq = await ob.accept(status());
    expect(seq).toBe(ob.lastCommittedSeq);
    expect(rows(ob).find((r) => r.seq === seq)?.event.type).toBe('retail.device.status.v1');
    expect((await refusal(ob.accept(scan(BIG)))).code).toBe('GW_ERR_BUFFER_FULL');
  });

  it('accepts scans again once acknowledged rows are deleted', async () => {
    const { ob } = setup(small);
    const { seqs } = await fillWithScans(ob);
    ob.deleteRanges([[1, seqs.length]]);
    expect(await ob.accept(scan(BIG))).toBeGreaterThan(seqs.length);
  });
});

describe('Outbox: presence policy', () => {
  const small = { maxBytes: 2 * MiB, reserveBytes: 256 * 1024, commitIntervalMs: 1 };

  it('makes room for new presence events by dropping the oldest presence rows, counted', async () => {
    const { ob, deps: d } = setup(small);
    const seqs: number[] = [];
    for (let i = 0; i < 200; i++) seqs.push(await ob.accept(presence(i)));
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    const kept = rows(ob);
    const dropped = await metricValue(d.metrics, 'sg_events_dropped_total', { class: 'presence' });
    expect(dropped).toBeGreaterThan(0);
    expect(kept.length + dropped).toBe(200);
    // The newest survive, in order; the oldest went first.
    expect(kept.map((r) => r.seq)).toEqual(seqs.slice(dropped));
    expect(kept.every((r) => r.cls === 'presence')).toBe(true);
    expect(ob.stats().rows).toBe(kept.length);
    expect(ob.stats().fileBytes).toBeLessThanOrEqual(2 * MiB);
    expect(await metricValue(d.metrics, 'sg_events_refused_total')).toBe(0);
  });

  /** Fills the buffer with scans, big then smaller, so that a 25 kB presence event cannot fit. */
  async function fullOfScans() {
    const s = setup(small);
    const big = await fillWithScans(s.ob);
    const rest = await fillWithScans(s.ob, 'z'.repeat(20_000));
    return { ...s, seqs: [...big.seqs, ...rest.seqs] };
  }

  it('never drops scans to make room for presence events', async () => {
    const { ob, deps: d, seqs } = await fullOfScans();
    ob.offer(presence(1, 25_000));
    ob.flush();
    expect(
      rows(ob)
        .filter((r) => r.cls === 'scan')
        .map((r) => r.seq),
    ).toEqual(seqs);
    expect(rows(ob).filter((r) => r.cls === 'presence')).toEqual([]);
    // With no older presence row to push out, the new reading is the one dropped.
    expect(await metricValue(d.metrics, 'sg_events_dropped_total', { class: 'presence' })).toBe(1);
  });

  it('settles accept() of a presence event that finds no room', async () => {
    const { ob } = await fullOfScans();
    let settled = false;
    ob.accept(presence(1, 25_000)).then(
      () => {
        settled = true;
      },
      () => {
        settled = true;
      },
    );
    ob.flush();
    await new Promise((r) => setImmediate(r));
    expect(settled).toBe(true);
  });
});

describe('Outbox: free-disk floor', () => {
  function controlled(freeBytes: number) {
    const disk = { free: freeBytes };
    const time = { now: 1_700_000_000_000 };
    const clock: Clock = { now: () => time.now };
    const s = setup(
      { maxBytes: 64 * MiB, minFreeBytes: 100 * MiB, reserveBytes: 256 * 1024, commitIntervalMs: 1 },
      { clock, freeDiskBytes: () => disk.free },
    );
    return { ...s, disk, time };
  }

  it('refuses scans with reason disk-low when the disk is under the floor', async () => {
    const { ob, deps: d } = controlled(10 * MiB);
    expect((await refusal(ob.accept(scan()))).code).toBe('GW_ERR_BUFFER_FULL');
    expect(
      await metricValue(d.metrics, 'sg_events_refused_total', { class: 'scan', reason: 'disk-low' }),
    ).toBe(1);
    expect(ob.stats().rows).toBe(0);
  });

  it('still stores the disk-low alarm when the disk is already under the floor', async () => {
    const { ob } = controlled(10 * MiB);
    await refusal(ob.accept(scan()));
    ob.flush();
    // A 1 kB alarm is what tells central why scans stopped; the floor is there to keep such room.
    expect(alarms(ob, 'disk-low')).toHaveLength(1);
  });

  it('lets the file grow only up to the floor, raises a disk-low alarm, and resumes when space comes back', async () => {
    const { ob, deps: d, disk, time } = controlled(100 * MiB + 64 * 1024);
    // 64 KiB above the floor: scans are accepted until the file would eat into it.
    let accepted = 0;
    for (;;) {
      const outcome = await ob.accept(scan()).then(
        () => 'in' as const,
        (err: unknown) => err,
      );
      if (outcome !== 'in') {
        expect(isGatewayError(outcome, 'GW_ERR_BUFFER_FULL')).toBe(true);
        break;
      }
      accepted++;
      expect(accepted).toBeLessThan(1000);
    }
    expect(accepted).toBeGreaterThan(0);
    expect(
      await metricValue(d.metrics, 'sg_events_refused_total', { class: 'scan', reason: 'disk-low' }),
    ).toBe(1);
    ob.flush();
    const [alarm] = alarms(ob, 'disk-low');
    expect(alarm).toMatchObject({ device: 'gateway', cls: 'device' });
    disk.free = 10_000 * MiB;
    time.now += 2000;
    expect(await ob.accept(scan())).toBe(ob.lastCommittedSeq);
    expect(rows(ob).filter((r) => r.cls === 'scan')).toHaveLength(accepted + 1);
    expect(ob.stats().refusing).toBe(false);
  });

  it('does not touch the closed file when the final flush starts refusing', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { ob, disk, time } = controlled(10_000 * MiB);
    ob.offer(scan());
    ob.flush();
    expect(ob.stats().rows).toBe(1);
    // The disk fills; the scan still queued at close is refused, which raises an alarm.
    disk.free = 0;
    time.now += 2000;
    ob.offer(scan());
    ob.close();
    expect(() => vi.runOnlyPendingTimers()).not.toThrow();
  });
});

describe('Outbox: quarantine of a corrupt buffer', () => {
  /** Writes `n` scans to a buffer, closes it and returns what a fresh start needs. */
  async function written(n: number, text = 'y'.repeat(300)) {
    const { ob, opts, path } = setup({ commitIntervalMs: 1 });
    await Promise.all(Array.from({ length: n }, () => ob.accept(scan(text))));
    ob.close();
    expect(existsSync(`${path}-wal`)).toBe(false);
    return { opts, path, lastSeq: n };
  }

  async function expectQuarantined(opts: OutboxOptions, path: string, damaged: Buffer) {
    const reserved = SeqReservation.read(`${path}.seq`);
    const d = deps();
    const ob = open(opts, d);
    expect(ob.quarantine).toBeDefined();
    const movedTo = ob.quarantine?.movedTo as string;
    expect(movedTo.startsWith(`${path}.corrupt-`)).toBe(true);
    // Kept as it was, for forensics (SQLite may have touched the change counters in the header).
    const kept = readFileSync(movedTo);
    expect(kept.length).toBe(damaged.length);
    expect(kept.subarray(100).equals(damaged.subarray(100))).toBe(true);
    expect(readdirSync(join(path, '..')).filter((f) => f.includes('.corrupt-'))).toContain(
      movedTo.slice(movedTo.lastIndexOf('/') + 1),
    );
    expect(await metricValue(d.metrics, 'sg_buffer_quarantines_total')).toBe(1);
    ob.flush();
    const [alarm, ...others] = rows(ob);
    expect(others).toEqual([]);
    expect(alarm).toMatchObject({ cls: 'device', device: 'gateway' });
    expect(alarm?.event.data).toMatchObject({
      alarm: 'buffer-quarantined',
      severity: 'critical',
      details: { movedTo },
    });
    // seq continues above every seq ever reserved, so consumers see the jump.
    expect(alarm?.seq).toBe(reserved + 1);
    expect(await ob.accept(scan())).toBe(reserved + 2);
    return ob;
  }

  it('sets aside a file overwritten with garbage and starts a fresh one', async () => {
    const { opts, path, lastSeq } = await written(20);
    const garbage = randomBytes(readFileSync(path).length);
    writeFileSync(path, garbage);
    const ob = await expectQuarantined(opts, path, garbage);
    expect(SeqReservation.read(`${path}.seq`)).toBeGreaterThan(lastSeq);
    expect(ob.quarantine?.reason).toBeTruthy();
  });

  it('sets aside a file with damaged pages in the middle', async () => {
    const { opts, path } = await written(2000);
    const bytes = readFileSync(path);
    const pages = bytes.length / 4096;
    expect(pages).toBeGreaterThan(100);
    // Damage the B-tree headers of a few pages in the middle (not the row contents, which SQLite
    // cannot check).
    for (let p = Math.floor(pages / 2); p < Math.floor(pages / 2) + 4; p++)
      bytes.fill(0xa5, p * 4096, p * 4096 + 64);
    writeFileSync(path, bytes);
    await expectQuarantined(opts, path, bytes);
  });

  it('sets aside a truncated file', async () => {
    const { opts, path } = await written(2000);
    const size = readFileSync(path).length;
    truncateSync(path, Math.floor(size / 2 / 4096) * 4096 + 100);
    await expectQuarantined(opts, path, readFileSync(path));
  });

  it('does not quarantine a buffer path it may not open: a directory', () => {
    const dir = newDir();
    const path = join(dir, 'buffer.db');
    mkdirSync(path);
    expect(() => Outbox.open(options(path), deps())).toThrow();
    expect(readdirSync(dir)).toEqual(['buffer.db']);
  });

  it('does not quarantine a buffer path under a regular file', () => {
    const dir = newDir();
    writeFileSync(join(dir, 'not-a-dir'), 'x');
    expect(() => Outbox.open(options(join(dir, 'not-a-dir', 'buffer.db')), deps())).toThrow();
    expect(readdirSync(dir)).toEqual(['not-a-dir']);
  });

  it('does not quarantine a sound buffer written by a newer schema version', async () => {
    const { opts, path } = await written(3);
    const db = new Database(path);
    db.prepare("UPDATE meta SET value = 99 WHERE key = 'schema_version'").run();
    db.close();
    expect(() => Outbox.open(opts, deps())).toThrow(/newer/);
    expect(readdirSync(join(path, '..')).filter((f) => f.includes('.corrupt-'))).toEqual([]);
    const check = new Database(path, { readonly: true });
    expect(check.prepare('SELECT count(*) AS n FROM outbox').get()).toEqual({ n: 3 });
    check.close();
  });

  it('opens a sound buffer without quarantine', async () => {
    const { opts, lastSeq } = await written(3);
    const ob = open(opts, deps());
    expect(ob.quarantine).toBeUndefined();
    expect(ob.read(0, 10)).toHaveLength(lastSeq);
  });
});
