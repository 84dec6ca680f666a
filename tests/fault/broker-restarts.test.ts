import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import { MqttProxy, Rig } from './helpers/rig.js';

const RESTARTS = 20;
/** In-flight window, in MQTT messages (a batch of the catch-up drain is one message). */
const WINDOW = 50;
/** Events in one batch message at most (mqtt.batch.maxEvents): small, so the drain spans many messages. */
const BATCH = 50;
/** Scans typed at once while the broker is down: the backlog the restarts interrupt. */
const BACKLOG = 30_000;
/** Scans per second typed on top, all along. */
const RATE = 200;
/** Event messages a broker incarnation receives from the gateway before it is killed: mid-drain. */
const PER_CYCLE = 20;

/*
 * Row 4: the broker is SIGKILLed and restarted 20 times while the gateway drains a backlog. Each
 * kill drops the connection with up to a window of publishes unacknowledged; the gateway must
 * rewind to the oldest and resend, so nothing is lost and each restart costs at most one window of
 * duplicate messages.
 *
 * A TCP proxy between gateway and broker reads the MQTT packets both ways (tests/fault/helpers/rig.ts
 * MqttProxy): it triggers each kill after the broker has received PER_CYCLE event messages on the
 * connection, and records which seqs each publish carried and which the broker acknowledged.
 *
 * "Lost" is judged where the gateway's responsibility ends, at the PUBACK: every accepted seq (1 to
 * the buffer's last_seq) must have been acknowledged by a broker. What central receives is reported
 * beside it: a SIGKILLed Mosquitto forgets what it acknowledged but had not yet handed to central
 * (it saves its store only on a clean stop), which is the broker's durability, not the gateway's.
 * To keep that loss down the test saves the broker's state once (a clean restart) with central's
 * persistent session in it, so each hard restart comes back knowing central's subscription.
 *
 * Duplicates are counted at the proxy: publishes that repeat a seq an earlier one carried. Those on
 * the connection after kill k are the gateway's resends for it.
 */
describe('fault row 4: broker SIGKILLed and restarted 20 times during a drain (built CLI, MQTT 5)', () => {
  let rig: Rig | undefined;
  let proxy: MqttProxy | undefined;
  afterEach(async () => {
    await rig?.dispose();
    await proxy?.close();
    rig = proxy = undefined;
  });

  it('loses nothing; duplicates per restart stay within one window', { timeout: 420_000 }, async () => {
    const t0 = performance.now();
    rig = await Rig.start({
      window: WINDOW,
      config: { mqtt: { batch: { maxEvents: BATCH } } },
      gatewayMqttUrl: async (broker) => {
        proxy = await MqttProxy.start(broker.port);
        return proxy.url;
      },
    });
    const r = rig;
    const p = proxy as MqttProxy;
    // Save central's session in the broker's persistence file (a clean stop); central reconnects by itself.
    await r.broker.restart();
    await r.startGateway(120_000);
    await r.collector.waitForUnique(1, 'retail.device.status.v1', 60_000);

    const typist = r.typist({ rate: RATE, batch: 10 });
    await r.broker.kill();
    await typist.burst(BACKLOG);
    await waitFor(
      async () => ((await r.bufferRows()) ?? 0) >= BACKLOG,
      `a backlog of ${BACKLOG}`,
      120_000,
      100,
    );
    const backlog = (await r.bufferRows()) ?? 0;

    /** Proxy connection count at each broker restart: later connections belong to that incarnation. */
    const firstConnection: number[] = [];
    /** Buffer rows right after each kill: more than a window means the drain was under way. */
    const rowsAtKill: number[] = [];
    for (let k = 1; k <= RESTARTS; k++) {
      firstConnection.push(p.connections.length);
      const reached = new Promise<void>((resolve) => {
        p.onPublish = (n) => n >= PER_CYCLE && resolve();
      });
      await r.broker.restart();
      await reached;
      await r.broker.kill();
      p.onPublish = undefined;
      rowsAtKill.push((await r.bufferRows()) ?? -1);
    }
    firstConnection.push(p.connections.length);
    await r.broker.restart();
    await r.waitDrained(180_000);
    const typed = await typist.stop();
    await r.waitDrained(60_000);
    const gw = r.gateway;
    await r.killGateway('SIGTERM');
    expect((await gw?.exit)?.code).toBe(0);
    const d = await r.delivery({ timeoutMs: 60_000 });

    const lastSeq = d.lastSeq;
    const notAcked: number[] = [];
    for (let s = 1; s <= lastSeq; s++) if (!p.ackedSeqs.has(s)) notAcked.push(s);
    // Resends after kill k: on the connections to broker incarnation k + 1 (the first after it).
    const resent = firstConnection.slice(1).map((from, k) => {
      const to = firstConnection[k + 2] ?? p.connections.length;
      const conns = p.connections.slice(from, to);
      return {
        messages: conns.reduce((n, c) => n + c.resentMessages, 0),
        events: conns.reduce((n, c) => n + c.resentEvents, 0),
      };
    });
    const lostAtCentral = d.lostSeqs.length;
    const brokerLost = d.lostSeqs.filter((s) => p.ackedSeqs.has(s)).length;
    console.log(
      `fault: row 4 broker SIGKILLed and restarted ${RESTARTS} times during a drain: backlog ${backlog} rows; ` +
        `killed after ${PER_CYCLE} event messages each time, ${Math.min(...rowsAtKill)}-${Math.max(...rowsAtKill)} rows ` +
        `left at the kills; window ${WINDOW} messages (batches of up to ${BATCH}); resent per restart: messages ` +
        `[${resent.map((x) => x.messages).join(', ')}], events [${resent.map((x) => x.events).join(', ')}]; ` +
        `${typed + BACKLOG} scans typed, ${lastSeq} events accepted, ${lastSeq - notAcked.length} acknowledged by the ` +
        `broker (lost by the gateway: ${notAcked.length}); at central ${lastSeq - lostAtCentral} ` +
        `(${brokerLost} acknowledged but dropped by the SIGKILLed broker; ${p.noSubscribers} acknowledged ` +
        `as "no matching subscribers"); ${Math.round((performance.now() - t0) / 1000)} s`,
    );

    expect(notAcked.slice(0, 20), `${notAcked.length} accepted seqs never acknowledged by a broker`).toEqual(
      [],
    );
    // Whatever central misses, the broker had acknowledged (it is the broker's loss, not the gateway's).
    expect(d.lostSeqs.filter((s) => !p.ackedSeqs.has(s))).toEqual([]);
    expect(d.invalid).toBe(0);
    expect(d.divergentDuplicates).toBe(0);
    // Every kill fell during the drain: more than a window of rows was still waiting.
    for (const rows of rowsAtKill) expect(rows).toBeGreaterThan(WINDOW);
    // Nothing resent before the first hard kill.
    expect(p.connections.slice(0, firstConnection[0]).reduce((n, c) => n + c.resentMessages, 0)).toBe(0);
    for (const [k, x] of resent.entries()) {
      expect(x.messages, `messages resent after kill ${k + 1}`).toBeLessThanOrEqual(WINDOW);
      expect(x.events, `events resent after kill ${k + 1}`).toBeLessThanOrEqual(WINDOW * BATCH);
    }
  });
});
