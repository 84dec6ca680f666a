import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_PRODUCTS } from '../../simulators/barcodes.js';
import { SimulatedSerialScanner } from '../../simulators/serial-scanner.js';
import { type EmbeddedBroker, startEmbeddedBroker } from '../../src/broker/embedded.js';
import { type Running, startGateway } from '../../src/cli/run.js';
import { validateConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/logger.js';
import { Collector } from '../helpers/collector.js';
import { testConfig } from '../helpers/config.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { tmpDir } from '../helpers/tmp.js';

const SCANS = 300;

async function runPipeline(url: string, protocolVersion: 4 | 5) {
  const dir = tmpDir();
  const scanner = new SimulatedSerialScanner({
    linkPath: join(dir.path, 'scanner'),
    framing: { suffix: '\r\n' },
    aim: true,
  });
  await scanner.plug();
  const collector = await Collector.start(url, { protocolVersion });
  const checked = validateConfig(
    testConfig({
      dir: dir.path,
      mqttUrl: url,
      protocolVersion,
      devices: [{ id: 'lane-1', kind: 'serial-scanner', path: scanner.options.linkPath, aim: true }],
    }),
  );
  if (!checked.ok) throw new Error(JSON.stringify(checked.issues));
  let running: Running | undefined;
  try {
    running = await startGateway(checked.config, { log: silentLogger() });
    const sent = DEMO_PRODUCTS.slice(0, 4);
    for (let i = 0; i < SCANS; i++) await scanner.scan(sent[i % sent.length] as (typeof sent)[number]);
    await collector.waitForUnique(SCANS, 'retail.scan.v1');
    return { collector, sent };
  } finally {
    await running?.stop();
    await collector.stop();
    await scanner.unplug();
    dir.cleanup();
  }
}

function expectInOrderAndValid(collector: Collector) {
  const events = collector.unique();
  expect(events.every((r) => r.issues.length === 0)).toBe(true);
  const seqs = events.map((r) => r.event?.seq as number);
  expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
  expect(new Set(seqs).size).toBe(seqs.length);
  expect(collector.consumer.counts.gaps).toBe(0);
}

describe('scanner → gateway → Mosquitto (MQTT 5)', () => {
  let broker: Mosquitto;
  beforeAll(async () => {
    broker = await Mosquitto.start();
  });
  afterAll(async () => {
    await broker?.dispose();
  });

  it('delivers every scan as a valid CloudEvent, in seq order', async () => {
    const { collector, sent } = await runPipeline(broker.url, 5);
    expectInOrderAndValid(collector);
    const scans = collector.unique('retail.scan.v1');
    expect(scans).toHaveLength(SCANS);
    const first = scans[0]?.event;
    expect(first?.data).toEqual({
      deviceId: 'lane-1',
      text: sent[0]?.text,
      aim: ']E0',
      symbology: 'ean-13',
      scanDataType: 104,
      gtin: `0${sent[0]?.text}`,
      valid: true,
    });
    expect(first?.source).toBe('/stores/0421/gateways/gw-test/devices/lane-1');
    expect(scans[0]?.topic).toBe('stores/0421/gateways/gw-test/events/scan/lane-1');
    const status = collector.unique('retail.device.status.v1');
    expect(status[0]?.event?.data).toMatchObject({ deviceId: 'lane-1', state: 'connected' });
    expect(collector.states.at(-1)).toMatchObject({ state: 'offline', reason: 'shutdown' });
    expect(collector.states.some((s) => s.state === 'online')).toBe(true);
  });
});

describe('scanner → gateway → aedes (MQTT 3.1.1)', () => {
  let broker: EmbeddedBroker;
  beforeAll(async () => {
    broker = await startEmbeddedBroker();
  });
  afterAll(async () => {
    await broker?.close();
  });

  it('delivers every scan as a valid CloudEvent, in seq order', async () => {
    const { collector } = await runPipeline(broker.url, 4);
    expectInOrderAndValid(collector);
    expect(collector.unique('retail.scan.v1')).toHaveLength(SCANS);
  });
});
