import {
  closeSync,
  copyFileSync,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  truncateSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import { Rig, SCAN } from './helpers/rig.js';
import { scanCode } from './helpers/typist.js';

const ALARM = 'retail.gateway.alarm.v1';
const SCANS = 500;
const PAGE = 4096;

type Damage = 'flipped' | 'truncated' | 'wal-after-clean-stop' | 'wal-after-kill';

interface GatewayStatus {
  buffer?: { rows: number; lastSeq: number };
}

/** CPU time (user + system) a process has used so far, in ms (Linux, 100 ticks a second). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** XORs `len` bytes at `offset` with 0xff. */
function flip(path: string, offset: number, len: number): void {
  const fd = openSync(path, 'r+');
  try {
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, offset);
    for (let i = 0; i < len; i++) buf[i] = (buf[i] as number) ^ 0xff;
    writeSync(fd, buf, 0, len, offset);
  } finally {
    closeSync(fd);
  }
}

/** What SQLite says of a file, without the gateway: quick_check's answer or the error it raises. */
/**
 * SQLite's own verdict on the main file, read from a copy: opening the buffer itself would create
 * a new -wal and -shm beside it and hide the traces the gateway looks for.
 */
async function sqliteVerdict(path: string): Promise<string> {
  const { default: Database } = await import('better-sqlite3');
  const copy = `${path}.verdict-copy`;
  copyFileSync(path, copy);
  try {
    const db = new Database(copy, { readonly: true, fileMustExist: true });
    try {
      const rows = db.pragma('quick_check') as { quick_check: string }[];
      return rows.map((r) => r.quick_check).join('; ');
    } finally {
      db.close();
    }
  } catch (err) {
    return `${(err as { code?: string }).code ?? 'error'}: ${(err as Error).message}`;
  } finally {
    for (const suffix of ['', '-wal', '-shm']) rmSync(copy + suffix, { force: true });
  }
}

/*
 * Row 8. A buffer holding 500 undelivered scans (the broker is down) is damaged while the gateway is
 * stopped, then the gateway starts again with the broker back:
 *
 * - flipped: the first 16 bytes of every page after the first are inverted (b-tree page headers);
 * - truncated: the file is cut to 40% of its length, mid-page;
 * - wal-after-clean-stop: the gateway stopped with SIGTERM, and its -wal file is deleted. A clean
 *   close checkpoints the WAL into the main file (SQLite then removes the -wal itself), so this is
 *   no damage at all: the gateway must start on the same buffer and deliver all 500 scans;
 * - wal-after-kill: the gateway was SIGKILLed, so the last commits live only in the -wal, which is
 *   deleted. The gateway lost committed events, and continuing on the old file would hand out
 *   seqs again (SQLite finds the main file consistent as of its last checkpoint). It treats a
 *   `-shm` left without its `-wal` (the trace of exactly this) as damage and quarantines the buffer.
 *
 * Damaged buffers must be renamed aside (`buffer.db.corrupt-<stamp>`), a fresh buffer created, the
 * gateway ready within 10 s, a `buffer-quarantined` alarm delivered to central, seq continuing above
 * everything handed out before, and new scans delivered.
 */
describe('fault: corrupt buffer file (row 8)', () => {
  let rig: Rig | undefined;
  afterEach(async () => {
    await rig?.dispose();
    rig = undefined;
  });

  async function run(damage: Damage) {
    rig = await Rig.start({});
    const r = rig;
    const wal = `${r.bufferPath}-wal`;
    const status = async () => (await r.gateway?.status()) as GatewayStatus;
    const firstReadyMs = await r.startGateway();
    const firstCpuMs = cpuMs(r.gateway?.pid as number);
    await r.collector.waitForUnique(1, 'retail.device.status.v1', 30_000);
    if (damage === 'wal-after-kill') {
      // A clean stop first, so the tables themselves are in the main file and only rows are in the WAL.
      await r.killGateway('SIGTERM');
      await r.startGateway();
    }
    await r.broker.stop();
    await r.typist({ rate: 500, batch: 25, count: SCANS }).done();
    await waitFor(async () => ((await status()).buffer?.rows ?? 0) >= SCANS, `${SCANS} rows`, 30_000, 50);
    const lastSeqBefore = (await status()).buffer?.lastSeq ?? 0;
    await r.killGateway(damage === 'wal-after-kill' ? 'SIGKILL' : 'SIGTERM');

    const size = statSync(r.bufferPath).size;
    const walBytes = existsSync(wal) ? statSync(wal).size : -1;
    const shmLeft = existsSync(`${r.bufferPath}-shm`);
    if (damage === 'flipped') {
      for (let off = PAGE; off < size; off += PAGE) flip(r.bufferPath, off, 16);
    } else if (damage === 'truncated') {
      truncateSync(r.bufferPath, Math.floor(size * 0.4) + 123);
    } else if (existsSync(wal)) {
      unlinkSync(wal);
    }
    const verdict = await sqliteVerdict(r.bufferPath);

    await r.broker.restart();
    const linesBefore = r.incarnations.length;
    const readyMs = await r.startGateway();
    const gw = r.gateway;
    if (!gw || r.incarnations.length !== linesBefore + 1) throw new Error('no new gateway');
    const readyCpuMs = cpuMs(gw.pid);
    const quarantined = readdirSync(r.dir).filter((f) => f.startsWith('buffer.db.corrupt-'));
    const corruptLog = gw.lines.find((l) => l.msg.includes('buffer file is corrupt'));
    const alarm = await waitFor(
      () =>
        r.collector
          .unique(ALARM)
          .find((e) => (e.event?.data as { alarm?: unknown } | undefined)?.alarm === 'buffer-quarantined'),
      'the buffer-quarantined alarm',
      20_000,
    ).catch(() => undefined);

    // The gateway works on: new scans get through.
    const typist = r.typist({ rate: 200, batch: 10, count: 20, text: (i) => scanCode(700_000 + i) });
    await typist.done();
    const texts = () => new Set(r.collector.unique(SCAN).map((e) => e.event?.data.text));
    await waitFor(
      () => Array.from({ length: 20 }, (_, i) => scanCode(700_000 + i)).every((t) => texts().has(t)),
      'the scans typed after the restart',
      30_000,
    );
    const old = Array.from({ length: SCANS }, (_, i) => scanCode(i));
    if (damage === 'wal-after-clean-stop') {
      await waitFor(() => old.every((t) => texts().has(t)), 'the scans from before the stop', 30_000).catch(
        () => undefined,
      );
    }
    const oldDelivered = old.filter((t) => texts().has(t)).length;
    await r.waitDrained(30_000);
    const newTexts = new Set(Array.from({ length: 20 }, (_, i) => scanCode(700_000 + i)));
    const newSeqs = r.collector
      .unique(SCAN)
      .filter((e) => newTexts.has(String(e.event?.data.text)))
      .map((e) => e.event?.seq as number);
    const firstNewSeq = Math.min(...newSeqs);
    const alarmSeq = alarm?.event?.seq ?? 0;
    const walState = walBytes < 0 ? 'absent' : `${Math.round(walBytes / 1024)} KiB`;
    const line =
      `fault: row 8 ${damage}: file ${Math.round(size / 1024)} KiB, WAL ${walState}, -shm ${shmLeft ? 'left' : 'absent'} ` +
      `after the stop; SQLite says "${verdict.slice(0, 100)}"; ` +
      `${quarantined.length ? `quarantined as ${quarantined.join(', ')}` : 'not quarantined'}; ready ` +
      `${Math.round(readyMs)} ms after the spawn, ${readyCpuMs} ms of CPU (an undamaged start: ${Math.round(firstReadyMs)} ms, ` +
      `${firstCpuMs} ms of CPU); ` +
      `alarm ${alarm ? `buffer-quarantined delivered (seq ${alarmSeq})` : 'none'}; last seq before ${lastSeqBefore}, ` +
      `first new scan seq ${firstNewSeq}; ${oldDelivered}/${SCANS} scans from before the stop delivered`;
    console.log(line);
    return { readyMs, quarantined, corruptLog, alarm, alarmSeq, lastSeqBefore, oldDelivered, firstNewSeq };
  }

  for (const damage of ['flipped', 'truncated', 'wal-after-kill'] as const) {
    it(`${damage}: quarantined, fresh buffer, ready within 10 s, alarm delivered`, {
      timeout: 120_000,
    }, async () => {
      const o = await run(damage);
      expect(o.quarantined.length).toBeGreaterThanOrEqual(1);
      expect(o.corruptLog).toBeDefined();
      expect(o.alarm).toBeDefined();
      expect(o.alarmSeq).toBeGreaterThan(o.lastSeqBefore);
      // seq never repeats: whatever was handed out before the damage stays behind.
      expect(o.firstNewSeq).toBeGreaterThan(o.lastSeqBefore);
      expect(rig?.quickCheck()).toBe('ok');
      expect(o.readyMs).toBeLessThanOrEqual(10_000);
    });
  }

  it('wal-after-clean-stop: nothing lost, same buffer, ready within 10 s', { timeout: 120_000 }, async () => {
    const o = await run('wal-after-clean-stop');
    expect(o.quarantined).toEqual([]);
    expect(o.oldDelivered).toBe(SCANS);
    expect(o.firstNewSeq).toBeGreaterThan(o.lastSeqBefore);
    expect(o.readyMs).toBeLessThanOrEqual(10_000);
  });
});
