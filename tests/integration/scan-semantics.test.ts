import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedSerialScanner } from '../../simulators/serial-scanner.js';
import { type Running, startGateway } from '../../src/cli/run.js';
import { validateConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/logger.js';
import { Collector } from '../helpers/collector.js';
import { testConfig } from '../helpers/config.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { tmpDir } from '../helpers/tmp.js';

/**
 * Real PTY scanners → the running gateway → Mosquitto → a central consumer. The lane scanner sends
 * GS1 codes, a broken EAN-13, variable-measure codes and a Digital Link QR; the shelf scanner, with
 * duplicate suppression on, reads one label three times.
 */

const GS = '\u001d';
const DL = 'https://id.gs1.org/01/09506000134352/10/ABC/21/XYZ?17=291231&3103=000195';

const LANE_SCANS = [
  { aim: ']C1', text: '01095060001343521729123110ABC123' },
  { aim: ']E0', text: '4006381333932' },
  { aim: ']E0', text: '2012345612501' },
  { aim: ']Q1', text: DL },
  { aim: ']d2', text: `01095060001343521729123110ABC${GS}21XYZ` },
  { aim: ']E0', text: '2312345612502' },
];

describe('scan semantics through the running gateway (PTY → gateway → Mosquitto)', () => {
  let broker: Mosquitto;
  const dir = tmpDir();
  const lane = new SimulatedSerialScanner({
    linkPath: join(dir.path, 'lane'),
    framing: { suffix: '\r\n' },
    aim: true,
  });
  const shelf = new SimulatedSerialScanner({
    linkPath: join(dir.path, 'shelf'),
    framing: { stx: true },
    aim: true,
  });
  let collector: Collector;
  let running: Running | undefined;

  beforeAll(async () => {
    broker = await Mosquitto.start();
    await lane.plug();
    await shelf.plug();
    collector = await Collector.start(broker.url, { protocolVersion: 5 });
    const checked = validateConfig(
      testConfig({
        dir: dir.path,
        mqttUrl: broker.url,
        devices: [
          { id: 'lane-1', kind: 'serial-scanner', path: lane.options.linkPath, aim: true },
          {
            id: 'shelf-1',
            kind: 'serial-scanner',
            path: shelf.options.linkPath,
            framing: { stx: true },
            aim: true,
            dedupe: { windowMs: 2000 },
          },
        ],
        extra: { barcode: { variableMeasure: ['se-20', 'se-23'] } },
      }),
    );
    if (!checked.ok) throw new Error(JSON.stringify(checked.issues));
    running = await startGateway(checked.config, { log: silentLogger() });
  });

  afterAll(async () => {
    await running?.stop();
    await collector?.stop();
    await lane.unplug();
    await shelf.unplug();
    await broker?.dispose();
    dir.cleanup();
  });

  const scansOf = (device: string) =>
    collector
      .unique('retail.scan.v1')
      .map((r) => r.event?.data as Record<string, unknown>)
      .filter((d) => d.deviceId === device);

  it('every scan arrives with gtin, gs1, variableMeasure and valid as the content says', async () => {
    for (const s of LANE_SCANS) await lane.scan({ ...s });
    await collector.waitForUnique(LANE_SCANS.length, 'retail.scan.v1');
    expect(collector.unique().every((r) => r.issues.length === 0)).toBe(true);
    const byText = new Map(scansOf('lane-1').map((d) => [d.text, d]));
    expect(byText.size).toBe(LANE_SCANS.length);

    expect(byText.get('01095060001343521729123110ABC123')).toEqual({
      deviceId: 'lane-1',
      text: '01095060001343521729123110ABC123',
      aim: ']C1',
      symbology: 'gs1-128',
      scanDataType: 120,
      gtin: '09506000134352',
      gs1: {
        '01': { raw: '09506000134352', value: '09506000134352' },
        '17': { raw: '291231', value: '2029-12-31' },
        '10': { raw: 'ABC123', value: 'ABC123' },
      },
      valid: true,
    });

    expect(byText.get('4006381333932')).toEqual({
      deviceId: 'lane-1',
      text: '4006381333932',
      aim: ']E0',
      symbology: 'ean-13',
      scanDataType: 104,
      valid: false,
      reason: 'check-digit',
    });

    expect(byText.get('2012345612501')).toMatchObject({
      gtin: '02012345600003',
      variableMeasure: {
        scheme: 'se-20',
        measure: 'price',
        itemKey: '2012345600003',
        value: 12.5,
        raw: '1250',
        unit: 'SEK',
      },
      valid: true,
    });
    expect(byText.get('2312345612502')).toMatchObject({
      gtin: '02312345600004',
      variableMeasure: { scheme: 'se-23', measure: 'weight', value: 1.25, unit: 'kg' },
    });

    expect(byText.get(DL)).toMatchObject({
      symbology: 'qr',
      scanDataType: 204,
      gtin: '09506000134352',
      gs1: {
        '01': { value: '09506000134352' },
        '10': { value: 'ABC' },
        '21': { value: 'XYZ' },
        '17': { value: '2029-12-31' },
        '3103': { raw: '000195', value: 0.195, unit: 'kg' },
      },
      valid: true,
    });

    expect(byText.get(`01095060001343521729123110ABC${GS}21XYZ`)).toMatchObject({
      symbology: 'gs1-datamatrix',
      scanDataType: 208,
      gtin: '09506000134352',
      gs1: { '10': { value: 'ABC' }, '21': { value: 'XYZ' } },
      valid: true,
    });
    // Duplicate suppression is off for this lane: no count.
    expect(scansOf('lane-1').some((d) => 'count' in d)).toBe(false);
  });

  it('a shelf scanner with dedupe: three reads of one label are one event with count 3', async () => {
    const label = { aim: ']E0', text: '4006381333931' };
    await shelf.scanMany([label, label, label]);
    await shelf.scan({ aim: ']E0', text: '0036000291452' });
    await collector.waitForUnique(LANE_SCANS.length + 2, 'retail.scan.v1');
    const events = scansOf('shelf-1');
    expect(events.map((d) => [d.text, d.count])).toEqual([
      ['4006381333931', 3],
      ['0036000291452', 1],
    ]);
    const first = events[0] as Record<string, unknown>;
    expect(first).toMatchObject({ gtin: '04006381333931', valid: true });
    expect(Date.parse(first.lastTime as string)).toBeGreaterThanOrEqual(
      Date.parse(first.firstTime as string),
    );
    const envelope = collector.unique('retail.scan.v1').find((r) => r.event?.data === first)?.event;
    expect(envelope?.time).toBe(first.firstTime);
  });
});
