import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { sleep } from '../../src/util/sleep.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { Rig, SCAN } from './helpers/rig.js';
import { scanCode } from './helpers/typist.js';

const BYTES_PER_SEC = 10 * 1024;
const LATENCY_MS = 2000;
const SCANS = 8000;
const RATE = 400;
/** How long the link stays slow after the last scan was typed. */
const HOLD_MS = 8000;
const MB = 1024 * 1024;
/** Most the gateway's RSS may grow over the slow-link phase. */
const RSS_GROWTH_LIMIT = 30 * MB;

interface GatewayStatus {
  uplink?: { connected: boolean; inflight: number; window: number; reconnects: number };
  buffer?: { rows: number; lastSeq: number; fileBytes: number };
}

/** Resident set size of a process, from /proc (Linux). */
function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) * 1024;
}

/*
 * Row 6. The link to the broker becomes a slow WAN link: the proxy passes 10 KB/s each way with 2 s
 * of latency, and holds at most 64 KiB before pushing back through TCP. Meanwhile 8,000 scans
 * arrive at 400/s, roughly 25 times what the link can carry. The backlog must wait in SQLite, not in
 * memory: the buffer's rows grow with it, the messages awaiting PUBACK never exceed the window, and
 * the gateway's RSS stays within 30 MB of where it was before the link slowed down. The 30 MB is a
 * ceiling, not the proof (8,000 events in memory would take roughly 4-15 MB): the rows and the
 * in-flight count show where the backlog is; the window (at most 1,000 messages of about 540 bytes)
 * takes about 0.5 MB.
 */
describe('fault: slow link, 10 KB/s with 2 s latency (row 6)', () => {
  let rig: Rig | undefined;
  let proxy: TcpProxy | undefined;
  afterEach(async () => {
    await rig?.dispose();
    await proxy?.close();
    rig = undefined;
    proxy = undefined;
  });

  it('keeps memory flat and the backlog in SQLite, then delivers everything', {
    timeout: 180_000,
  }, async () => {
    rig = await Rig.start({
      gatewayMqttUrl: async (broker) => {
        proxy = await TcpProxy.start({ port: broker.port });
        return proxy.url();
      },
      // Long enough that a 2 s round trip is no reason to drop the connection.
      config: { mqtt: { keepaliveSec: 30 } },
    });
    const link = proxy as TcpProxy;
    await rig.startGateway();
    const gw = rig.gateway;
    if (!gw) throw new Error('no gateway');
    const status = async () => (await gw.status()) as GatewayStatus;

    // Warm up at full speed, so the baseline includes a working pipeline.
    const warm = rig.typist({ rate: 400, batch: 20, count: 1000, text: (i) => scanCode(900_000 + i) });
    await warm.done();
    await rig.collector.waitForUnique(1000, SCAN, 60_000);
    await rig.waitDrained(30_000);
    await sleep(2000);
    const baseline = rssBytes(gw.pid);

    link.throttle(BYTES_PER_SEC, LATENCY_MS);
    const bytesBefore = link.bytes.up;
    const throttledAt = performance.now();
    const delivered0 = rig.collector.unique(SCAN).length;
    const typist = rig.typist({ rate: RATE, batch: 20, count: SCANS });
    let peakRss = baseline;
    let peakRows = 0;
    let peakInflight = 0;
    let window = 0;
    let disconnected = 0;
    const timeline: string[] = [];
    let typedAt: number | undefined;
    let nextMark = 0;
    for (;;) {
      const s = await status();
      const rss = rssBytes(gw.pid);
      peakRss = Math.max(peakRss, rss);
      peakRows = Math.max(peakRows, s.buffer?.rows ?? 0);
      peakInflight = Math.max(peakInflight, s.uplink?.inflight ?? 0);
      window = Math.max(window, s.uplink?.window ?? 0);
      if (!s.uplink?.connected) disconnected++;
      const t = performance.now() - throttledAt;
      if (t >= nextMark) {
        timeline.push(`${Math.round(t / 1000)}s ${s.buffer?.rows} rows ${Math.round(rss / MB)} MB`);
        nextMark += 5000;
      }
      if (typedAt === undefined && typist.typed >= SCANS) typedAt = performance.now();
      if (typedAt !== undefined && performance.now() - typedAt >= HOLD_MS) break;
      await sleep(250);
    }
    await typist.done();
    const slowMs = performance.now() - throttledAt;
    const slowBytes = link.bytes.up - bytesBefore;
    const deliveredSlow = rig.collector.unique(SCAN).length - delivered0;
    const rowsAtEnd = (await status()).buffer?.rows ?? 0;
    const fileBytes = (await status()).buffer?.fileBytes ?? 0;

    link.heal();
    const healedAt = performance.now();
    await rig.collector.waitForUnique(1000 + SCANS, SCAN, 120_000);
    await rig.waitDrained(60_000);
    const drainMs = performance.now() - healedAt;
    const lastSeq = (await status()).buffer?.lastSeq ?? 0;
    const d = await rig.delivery({ lastSeq });
    const texts = new Set(rig.collector.unique(SCAN).map((r) => r.event?.data.text));
    const missing = Array.from({ length: SCANS }, (_, i) => scanCode(i)).filter((t) => !texts.has(t));

    const growth = peakRss - baseline;
    console.log(
      `fault: row 6 slow link: ${BYTES_PER_SEC / 1024} KB/s, ${LATENCY_MS} ms latency for ${Math.round(slowMs / 1000)} s ` +
        `(${Math.round(slowBytes / 1024)} KiB carried up, ${Math.round(slowBytes / (slowMs / 1000))} B/s); ` +
        `${SCANS} scans at ${RATE}/s, ${deliveredSlow} delivered while slow; peak buffer ${peakRows} rows ` +
        `(${rowsAtEnd} at the end, file ${Math.round(fileBytes / 1024)} KiB); peak in flight ${peakInflight} ` +
        `(window ${window}); RSS ${Math.round(baseline / MB)} MB before, peak ${Math.round(peakRss / MB)} MB ` +
        `(+${(growth / MB).toFixed(1)} MB); drained in ${Math.round(drainMs)} ms after the heal; ` +
        `${d.lastSeq} accepted, ${d.lostSeqs.length} lost, ${d.duplicates} duplicates; [${timeline.join(', ')}]`,
    );

    // The link really was slow, and the backlog really was large.
    expect(slowBytes / (slowMs / 1000)).toBeLessThanOrEqual(BYTES_PER_SEC * 1.05);
    expect(deliveredSlow).toBeLessThan(SCANS / 4);
    // The backlog sat in SQLite; what waits for PUBACK never exceeded the window.
    expect(peakRows).toBeGreaterThanOrEqual(SCANS - deliveredSlow - window);
    expect(rowsAtEnd).toBeGreaterThanOrEqual(SCANS - deliveredSlow - window);
    expect(window).toBeGreaterThan(0);
    expect(peakInflight).toBeLessThanOrEqual(window);
    expect(disconnected).toBe(0);
    // Memory stayed flat.
    expect(growth).toBeLessThan(RSS_GROWTH_LIMIT);
    // And nothing was lost once the link was back.
    expect(missing).toEqual([]);
    expect(d.lostSeqs).toEqual([]);
    expect(d.divergentDuplicates).toBe(0);
    expect(d.invalid).toBe(0);
  });
});
