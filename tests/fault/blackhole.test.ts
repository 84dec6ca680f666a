import { afterEach, describe, expect, it } from 'vitest';
import { sleep } from '../../src/util/sleep.js';
import type { LogLine } from '../helpers/gateway-process.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { waitFor } from '../helpers/wait.js';
import { POS, Rig, SCAN } from './helpers/rig.js';
import { scanCode } from './helpers/typist.js';

const KEEPALIVE_S = 5;
/** How long the link stays dead after the gateway noticed (its reconnect attempts hang meanwhile). */
const DEAD_AFTER_DETECTION_MS = 4000;

interface GatewayStatus {
  uplink?: { connected: boolean; reconnects: number; lastError: string | null };
  buffer?: { rows: number; lastSeq: number };
}

/*
 * Row 5. The gateway talks to Mosquitto through a TCP proxy; the proxy stops forwarding in both
 * directions without closing anything (no FIN, no reset, new connections accepted but never
 * answered), as a WAN path that drops every packet. Only the MQTT keepalive can tell: mqtt.js pings
 * after a keepalive of silence from the broker and gives up 1.5 keepalives after the last packet it
 * received. The test starts the blackhole on a link that has been quiet for at least a second (the
 * gateway then has its ping cycle part-way through, as at any random moment), and keeps scans and
 * POS transactions coming through the whole outage.
 */
describe('fault: blackholed broker connection (row 5)', () => {
  let rig: Rig | undefined;
  let proxy: TcpProxy | undefined;
  afterEach(async () => {
    await rig?.dispose();
    await proxy?.close();
    rig = undefined;
    proxy = undefined;
  });

  it('detects the dead link within 1.5x keepalive, reconnects within 10 s of the heal, loses nothing', {
    timeout: 120_000,
  }, async () => {
    rig = await Rig.start({
      pos: true,
      gatewayMqttUrl: async (broker) => {
        proxy = await TcpProxy.start({ port: broker.port });
        return proxy.url();
      },
      config: { mqtt: { keepaliveSec: KEEPALIVE_S, connectTimeoutMs: 2000 } },
    });
    const link = proxy as TcpProxy;
    await rig.startGateway();
    const gw = rig.gateway;
    if (!gw) throw new Error('no gateway');
    const status = async () => (await gw.status()) as GatewayStatus;
    const logAt = (l: LogLine) => Number(l.time);

    // Traffic before the fault.
    const typist = rig.typist({ rate: 50, batch: 5 });
    const lane = rig.posLane('pos-1').start({ gapMs: 100 });
    await waitFor(() => (rig?.collector.unique(SCAN).length ?? 0) >= 100, '100 scans at central', 30_000);
    await typist.stop();
    await lane.stop();
    await rig.waitDrained(30_000);

    // Quiet for a second, then the path goes dead.
    await waitFor(() => performance.now() - link.lastDownAt >= 1000, 'a quiet link', 20_000, 5);
    const quietMs = performance.now() - link.lastDownAt;
    link.blackhole();
    const blackholedAt = Date.now();
    const linesBefore = gw.lines.length;

    // Ingest goes on during the outage.
    const typist2 = rig.typist({ rate: 50, batch: 5, text: (i) => scanCode(100_000 + i) });
    const lane2 = rig.posLane('pos-2').start({ gapMs: 100 });

    const lost = await gw.waitForLog(
      (l) => l.msg === 'broker connection lost' && gw.lines.indexOf(l) >= linesBefore,
      'the gateway to notice the dead link',
      KEEPALIVE_S * 1000 * 3 + 20_000,
    );
    const detectedMs = logAt(lost) - blackholedAt;
    const st = await status();
    expect(st.uplink?.connected).toBe(false);
    // It was the keepalive that found it: the proxy closed nothing.
    expect(st.uplink?.lastError).toMatch(/keepalive/i);

    await sleep(DEAD_AFTER_DETECTION_MS);
    const rowsDuringOutage = (await status()).buffer?.rows ?? 0;
    const linesBeforeHeal = gw.lines.length;
    link.heal();
    const healedAt = Date.now();
    const back = await gw.waitForLog(
      (l) => l.msg === 'connected to broker' && gw.lines.indexOf(l) >= linesBeforeHeal,
      'the gateway to reconnect',
      30_000,
    );
    const reconnectMs = logAt(back) - healedAt;

    await sleep(1000);
    const typed = await typist2.stop();
    await lane2.stop();
    await rig.waitDrained(60_000);
    const lastSeq = (await status()).buffer?.lastSeq ?? 0;
    const posIds = [...lane.accepted, ...lane2.accepted].map((a) => a.eventId);
    const d = await rig.delivery({ lastSeq, posIds });
    const texts = new Set(rig.collector.unique(SCAN).map((r) => r.event?.data.text));
    const missingScans = Array.from({ length: typed }, (_, i) => scanCode(100_000 + i)).filter(
      (t) => !texts.has(t),
    );

    console.log(
      `fault: row 5 blackhole: keepalive ${KEEPALIVE_S} s; link quiet ${Math.round(quietMs)} ms before the ` +
        `blackhole; detected after ${detectedMs} ms (${(detectedMs / (KEEPALIVE_S * 1000)).toFixed(2)}x keepalive); ` +
        `healed after ${healedAt - blackholedAt} ms; reconnected ${reconnectMs} ms after the heal; ` +
        `${rowsDuringOutage} rows buffered during the outage; ${typed} scans and ${lane2.accepted.length} POS ` +
        `transactions during it; ${d.lastSeq} accepted events, ${d.lostSeqs.length} lost, ${d.duplicates} duplicates`,
    );

    expect(detectedMs).toBeLessThanOrEqual(KEEPALIVE_S * 1000 * 1.5);
    expect(reconnectMs).toBeLessThanOrEqual(10_000);
    expect(rowsDuringOutage).toBeGreaterThan(0);
    expect(typed).toBeGreaterThan(0);
    expect(lane2.accepted.length).toBeGreaterThan(0);
    expect(d.lostSeqs).toEqual([]);
    expect(d.lostPos).toEqual([]);
    expect(missingScans).toEqual([]);
    expect(d.divergentDuplicates).toBe(0);
    expect(d.invalid).toBe(0);
    expect([...lane.refused, ...lane2.refused]).toEqual([]);
    expect(rig.collector.unique(POS).length).toBe(lane.accepted.length + lane2.accepted.length);
  });
});
