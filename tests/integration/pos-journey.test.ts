import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_LOYALTY_ID } from '../../simulators/personalization.js';
import { posJourney, SimulatedPosLane } from '../../simulators/pos-lane.js';
import { type Running, startGateway } from '../../src/cli/run.js';
import { validateConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/logger.js';
import { Collector } from '../helpers/collector.js';
import { testConfig } from '../helpers/config.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The store journey end to end with real parts: personalization publishes the shopper's offer to
 * Mosquitto, the gateway caches it, a POS lane looks it up at the gateway, applies it and posts
 * the transaction, and central receives it from Mosquitto as a valid CloudEvent.
 */
describe('POS → gateway → Mosquitto, with the offer from personalization', () => {
  let broker: Mosquitto;
  let dir: ReturnType<typeof tmpDir>;
  let collector: Collector;
  let running: Running | undefined;
  let journey: ReturnType<typeof posJourney>;
  let apiUrl: string;

  beforeAll(async () => {
    broker = await Mosquitto.start();
    dir = tmpDir('sg-journey-');
    collector = await Collector.start(broker.url, { protocolVersion: 5 });
    journey = posJourney({ dir: dir.path, storeId: '0421', lanes: 2 });
    const r = validateConfig(
      testConfig({
        dir: dir.path,
        mqttUrl: broker.url,
        extra: { api: { tokensFile: journey.tokensFile }, ...journey.sections },
      }),
    );
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    running = await startGateway(r.config, { log: silentLogger() });
    const addr = running.api?.addresses()[0] as { address: string; port: number };
    apiUrl = `http://${addr.address}:${addr.port}`;
  });
  afterAll(async () => {
    await journey?.stop();
    await running?.stop();
    await collector?.stop();
    await broker?.dispose();
    dir?.cleanup();
  });

  it('the demo journey: the loyalty shopper’s transaction applies her offer and reaches central', async () => {
    await journey.start(apiUrl, broker.url);
    await collector.waitForUnique(2, 'retail.pos.transaction.v1');
    const lane1 = journey.posLanes[0] as SimulatedPosLane;
    await waitFor(() => lane1.posted.length > 0, 'lane 1 to get its answer');
    const first = lane1.posted[0];
    expect(first?.result.status).toBe(202);
    const tx = first?.tx;
    expect(tx?.loyaltyAccountId).toBe(DEMO_LOYALTY_ID);
    const discounted = tx?.lineItems.filter((l) => l.discounts?.some((d) => d.offerId === 'welcome-back'));
    expect(discounted?.length).toBeGreaterThanOrEqual(1);
    expect(tx?.totals.discount).toBeGreaterThan(0);

    const answer = JSON.parse(first?.result.body ?? '{}') as { eventId: string; seq: number };
    const mine = await waitFor(
      () => collector.unique('retail.pos.transaction.v1').find((r) => r.event?.id === answer.eventId),
      'lane 1’s transaction at central',
    );
    const received = collector.unique('retail.pos.transaction.v1');
    expect(mine?.issues).toEqual([]);
    expect(mine?.topic).toBe('stores/0421/gateways/gw-test/events/pos/lane-1');
    expect(mine?.event?.data).toEqual(tx);
    expect(mine?.event?.seq).toBe(answer.seq);
    expect(received.every((r) => r.issues.length === 0)).toBe(true);
    await journey.stop();
  });

  it('a lane that retries after a lost answer does not make a second transaction at central', async () => {
    const token = journey.lanes[1]?.token as string;
    const lane = new SimulatedPosLane({
      apiUrl,
      token,
      storeId: '0421',
      workstationId: 'lane-2',
      startSequence: 900,
    });
    const tx = lane.buildTransaction([], DEMO_LOYALTY_ID, []);
    const a = await lane.post(tx, { idempotencyKey: 'retry-1' });
    const b = await lane.post(tx, { idempotencyKey: 'retry-1' });
    expect(a.status).toBe(202);
    expect(b).toEqual({ ...a, replayed: true });
    await waitFor(
      () => collector.unique('retail.pos.transaction.v1').some((r) => r.event?.data?.sequenceNumber === 900),
      'the transaction at central',
    );
    // Anything still in flight has arrived once the gateway's buffer is empty.
    await waitFor(() => running?.gateway.outbox.stats().rows === 0, 'the buffer to drain');
    const copies = collector.received.filter((r) => r.event?.data?.sequenceNumber === 900);
    expect(copies).toHaveLength(1);
  });
});
