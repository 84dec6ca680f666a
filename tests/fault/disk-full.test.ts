import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEMO_GTIN_PRODUCTS } from '../../simulators/personalization.js';
import { newToken, SimulatedPosLane } from '../../simulators/pos-lane.js';
import { sleep } from '../../src/util/sleep.js';
import { waitFor } from '../helpers/wait.js';
import { POS, Rig, SCAN } from './helpers/rig.js';

const FS_SIZE = '8m';
/** Refused posts timed once refusing has started. */
const TIMED_REFUSALS = 50;

interface GatewayStatus {
  buffer?: { rows: number; lastSeq: number; refusing: boolean; fileBytes: number };
}

/** Mounts a tmpfs of `size` at `dir`; false when this process may not mount (not root, no CAP_SYS_ADMIN). */
function mountTmpfs(dir: string, size: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

/** Writes zeros into `file` until the filesystem is full; returns the bytes written. */
function fillUp(file: string): number {
  const chunk = Buffer.alloc(64 * 1024);
  const fd = openSync(file, 'w');
  let written = 0;
  try {
    for (;;) {
      try {
        written += writeSync(fd, chunk);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOSPC') return written;
        throw err;
      }
    }
  } finally {
    closeSync(fd);
  }
}

/** One POST of a new transaction, timed. */
async function post(lane: SimulatedPosLane) {
  const tx = lane.buildTransaction(DEMO_GTIN_PRODUCTS.slice(0, 1), undefined, []);
  const t = performance.now();
  const res = await fetch(`${lane.options.apiUrl}/v1/pos/transactions`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${lane.options.token}`,
      'content-type': 'application/json',
      'idempotency-key': newToken(),
    },
    body: JSON.stringify(tx),
  });
  const body = await res.text();
  return { status: res.status, ms: performance.now() - t, body, retryAfter: res.headers.get('retry-after') };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)] as number;
};
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))] as number;
};

type Space = 'filesystem' | 'budget';

interface Outcome {
  mode: string;
  line: string;
}

/*
 * Row 7, run twice. `filesystem`: the buffer (and pos.db beside it) lives on a small filesystem of
 * its own, an 8 MiB tmpfs mounted by the test (it runs as root in CI), and a file then takes every
 * free byte, as a runaway log would; "space returns" is that file being deleted. Where the test may
 * not mount, it falls back to the byte budget and says so. `budget`: the byte budget stands in for
 * the disk: `buffer.maxBytes` of 1 MiB with the broker stopped, and "space returns" is the broker
 * coming back and the backlog draining. The `fault:` line says which ran.
 *
 * Pass: POS lanes get 503 (GW_ERR_BUFFER_FULL, with Retry-After) and the median refusal takes at
 * most 100 ms; the gateway stays up (alive, /healthz 200) while scans keep arriving and are refused;
 * once space returns, a post is accepted again within 10 s; every accepted event reaches central,
 * and so does the disk-low (or buffer-full) alarm.
 *
 * On a really full disk the idempotency store (pos.db) is the first write on the POS path; its
 * SQLITE_FULL is answered as GW_ERR_BUFFER_FULL (503) too, and the disk-low alarm that cannot be
 * committed while the disk is full is raised by the first commit that succeeds again.
 */
describe('fault: disk full (row 7)', () => {
  let rig: Rig | undefined;
  let mounted: string | undefined;
  afterEach(async () => {
    await rig?.killGateway();
    if (mounted) execFileSync('umount', ['-l', mounted], { stdio: 'pipe' });
    mounted = undefined;
    await rig?.dispose();
    rig = undefined;
  });

  async function run(space: Space): Promise<Outcome> {
    rig = await Rig.start({ pos: true });
    // Lanes post as fast as they can here; the API's rate limit (600 a minute per token) is not
    // what this row tests.
    rig.patchConfig({ api: { rateLimit: { enabled: false } } });
    const mnt = join(rig.dir, 'small-disk');
    mkdirSync(mnt);
    const onDisk = space === 'filesystem' && mountTmpfs(mnt, FS_SIZE);
    if (onDisk) {
      mounted = mnt;
      rig.patchConfig({ buffer: { path: join(mnt, 'buffer.db'), minFreeBytes: '1MiB' } });
    } else {
      // Space returns when the broker does; a short reconnect ceiling keeps the backoff (up to 30 s
      // by default after a long outage) out of the time measured here.
      rig.patchConfig({
        buffer: { maxBytes: '1MiB', reserveBytes: '128KiB' },
        mqtt: { reconnect: { minMs: 200, maxMs: 2000 } },
      });
    }
    const mode = onDisk
      ? `a full filesystem (tmpfs of ${FS_SIZE.replace('m', ' MiB')})`
      : `the byte budget (buffer.maxBytes 1 MiB${space === 'filesystem' ? '; mounting was not possible' : ''})`;
    await rig.startGateway();
    const gw = rig.gateway;
    if (!gw) throw new Error('no gateway');
    const status = async () => (await gw.status()) as GatewayStatus;
    const api = rig.apiUrl;
    const lane = new SimulatedPosLane({
      apiUrl: api,
      token: rig.posToken,
      storeId: '0421',
      workstationId: 'pos-9',
    });
    const accepted: string[] = [];
    const took = (r: Awaited<ReturnType<typeof post>>) => {
      if (r.status === 202) accepted.push((JSON.parse(r.body) as { eventId: string }).eventId);
      return r;
    };
    expect(took(await post(lane)).status).toBe(202);

    // Scans keep coming through the whole fault.
    const typist = rig.typist({ rate: 50, batch: 5 });
    const filler = join(mnt, 'filler');
    let filled = 0;
    if (onDisk) filled = fillUp(filler);
    else await rig.broker.stop();
    const faultAt = performance.now();

    // Post until the first refusal, from eight lanes at once (filling a 1 MiB budget one by one takes long).
    let first: Awaited<ReturnType<typeof post>> | undefined;
    const deadline = performance.now() + 60_000;
    await Promise.all(
      Array.from({ length: onDisk ? 1 : 8 }, async () => {
        while (!first && performance.now() < deadline) {
          const r = took(await post(lane));
          if (r.status !== 202) first ??= r;
        }
      }),
    );
    if (!first) throw new Error('no refusal within 60 s');
    const refusingAfterMs = performance.now() - faultAt;

    // Refusals, one after another, timed.
    const refusals: Awaited<ReturnType<typeof post>>[] = [];
    for (let i = 0; i < TIMED_REFUSALS; i++) refusals.push(took(await post(lane)));
    const ms = refusals.map((r) => r.ms);
    const statuses = new Map<string, number>();
    for (const r of [first, ...refusals]) {
      if (!r) continue;
      const k = `${r.status} ${(JSON.parse(r.body) as { error?: string }).error ?? ''}`.trim();
      statuses.set(k, (statuses.get(k) ?? 0) + 1);
    }

    // Nothing crashed.
    await sleep(2000);
    const aliveDuring = gw.alive;
    const health = (await fetch(`${api}/healthz`)).status;
    const during = await status();
    const metrics = await (await fetch(`${api}/metrics`)).text();
    const refusedScans = [
      ...metrics.matchAll(/^sg_events_refused_total\{[^}]*class="scan"[^}]*\} (\d+)/gm),
    ].reduce((a, m) => a + Number(m[1]), 0);

    // Space returns.
    if (onDisk) rmSync(filler);
    else await rig.broker.restart();
    const freedAt = performance.now();
    let resumeTries = 0;
    const afterFree = new Set<number>();
    await waitFor(
      async () => {
        resumeTries++;
        const r = took(await post(lane));
        afterFree.add(r.status);
        return r.status === 202;
      },
      'intake to resume',
      30_000,
      100,
    );
    const resumeMs = performance.now() - freedAt;
    // Scans typed after intake resumed must be accepted too.
    await sleep(1500);
    await typist.stop();

    await rig.waitDrained(60_000);
    const lastSeq = (await status()).buffer?.lastSeq ?? 0;
    const d = await rig.delivery({ lastSeq, posIds: accepted });
    const alarms = rig.collector.unique('retail.gateway.alarm.v1').map((r) => String(r.event?.data.alarm));
    const line =
      `fault: row 7 disk full via ${mode}: ${onDisk ? `filler took ${Math.round(filled / 1024)} KiB; ` : ''}` +
      `first refusal ${Math.round(refusingAfterMs)} ms after the fault; answers ${JSON.stringify(Object.fromEntries(statuses))}; ` +
      `${TIMED_REFUSALS} refusals took p50 ${median(ms).toFixed(1)} ms, p90 ${pct(ms, 0.9).toFixed(1)} ms, ` +
      `max ${Math.max(...ms).toFixed(1)} ms; ${refusedScans} scans refused; gateway ${aliveDuring ? 'alive' : 'DEAD'}, ` +
      `/healthz ${health}; intake resumed ${Math.round(resumeMs)} ms after space returned (${resumeTries} tries); ` +
      `${accepted.length} POS accepted, ${d.lastSeq} events accepted, ${d.lostSeqs.length} lost; ` +
      `alarms at central: ${alarms.join(', ') || 'none'}`;
    console.log(line);

    expect(first?.status, first?.body).toBe(503);
    for (const r of refusals) {
      expect(r.status, r.body).toBe(503);
      expect(JSON.parse(r.body)).toMatchObject({ error: 'GW_ERR_BUFFER_FULL' });
      expect(r.retryAfter).toBe('5');
    }
    expect(median(ms)).toBeLessThanOrEqual(100);
    expect(aliveDuring).toBe(true);
    expect(health).toBe(200);
    expect(during.buffer?.refusing).toBe(true);
    expect(refusedScans).toBeGreaterThan(0);
    expect([...afterFree].filter((s) => s !== 202 && s !== 503)).toEqual([]);
    expect(resumeMs).toBeLessThanOrEqual(10_000);
    expect(d.lostSeqs).toEqual([]);
    expect(d.lostPos).toEqual([]);
    expect(d.invalid).toBe(0);
    expect(rig.collector.unique(POS).length).toBe(accepted.length);
    expect(rig.collector.unique(SCAN).length).toBeGreaterThan(0);
    expect(alarms).toContain(onDisk ? 'disk-low' : 'buffer-full');
    expect(gw.alive).toBe(true);
    return { mode, line };
  }

  it('on a full filesystem: 503 to POS, stays up, intake back within 10 s of space returning', {
    timeout: 150_000,
  }, async () => {
    await run('filesystem');
  });

  it('at the byte budget: 503 to POS, stays up, intake back within 10 s of the backlog draining', {
    timeout: 150_000,
  }, async () => {
    await run('budget');
  });
});
