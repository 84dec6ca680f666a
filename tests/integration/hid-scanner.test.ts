import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HidScannerDriver } from '../../drivers/hid-scanner/driver.js';
import { hidBus, SimulatedHidScanner } from '../../simulators/hid-scanner.js';
import { type Running, startGateway } from '../../src/cli/run.js';
import { validateConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/logger.js';
import { Collector } from '../helpers/collector.js';
import { testConfig } from '../helpers/config.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const GS = '\x1d';

describe('HID scanners → gateway → Mosquitto', () => {
  let broker: Mosquitto;
  let collector: Collector;
  let running: Running | undefined;
  const dir = tmpDir();
  const wedge = new SimulatedHidScanner({
    mode: 'keyboard-wedge',
    layout: 'de',
    info: { path: '/dev/hidraw-sim1', productId: 0x0b81, serialNumber: 'W1' },
  });
  const pos = new SimulatedHidScanner({
    mode: 'hid-pos',
    info: { path: '/dev/hidraw-sim2', productId: 0x0b87, serialNumber: 'P1' },
  });

  beforeAll(async () => {
    broker = await Mosquitto.start();
    collector = await Collector.start(broker.url);
    const checked = validateConfig(
      testConfig({
        dir: dir.path,
        mqttUrl: broker.url,
        devices: [
          {
            id: 'lane-1-wedge',
            kind: 'hid-scanner',
            mode: 'keyboard-wedge',
            match: { vendorId: '0c2e', productId: '0b81' },
            wedge: { layout: 'de' },
          },
          {
            id: 'lane-2-pos',
            kind: 'hid-scanner',
            mode: 'hid-pos',
            match: { usagePage: '008c', serialNumber: 'P1' },
            reopen: { minMs: 50, maxMs: 200 },
          },
        ],
      }),
    );
    if (!checked.ok) throw new Error(JSON.stringify(checked.issues));
    running = await startGateway(checked.config, {
      log: silentLogger(),
      transports: { 'hid-scanner': hidBus(wedge, pos) },
    });
  });

  afterAll(async () => {
    await running?.stop();
    await collector?.stop();
    await broker?.dispose();
    dir.cleanup();
  });

  /** The driver's part of each scan (the pipeline adds GS1 fields beside it). */
  const scansOf = (device: string) =>
    collector
      .unique('retail.scan.v1')
      .map((r) => r.event?.data as Record<string, unknown>)
      .filter((d) => d.deviceId === device)
      .map(({ deviceId, text, aim, symbology }) => ({ deviceId, text, ...(aim ? { aim } : {}), symbology }));
  const statusOf = (device: string) =>
    collector
      .unique('retail.device.status.v1')
      .map((r) => r.event?.data as Record<string, unknown>)
      .filter((d) => d.deviceId === device);

  it('reports both scanners connected, with the matched path', async () => {
    await waitFor(() => statusOf('lane-2-pos').length > 0 && statusOf('lane-1-wedge').length > 0, 'status');
    expect(statusOf('lane-1-wedge')[0]).toMatchObject({
      kind: 'hid-scanner',
      state: 'connected',
      path: '/dev/hidraw-sim1',
    });
    expect(statusOf('lane-2-pos')[0]).toMatchObject({ state: 'connected', path: '/dev/hidraw-sim2' });
  });

  it('decodes a German keyboard-wedge scanner (QWERTZ, dead ^, GS as Ctrl+])', async () => {
    const texts = ['4006381333931', `0109501101530003${GS}10Zy^@`, 'ZYzy-_#'];
    for (const text of texts) await wedge.scan({ text });
    await waitFor(() => scansOf('lane-1-wedge').length >= texts.length, 'wedge scans');
    expect(scansOf('lane-1-wedge')).toEqual(
      texts.map((text) => ({ deviceId: 'lane-1-wedge', text, symbology: 'unknown' })),
    );
  });

  it('reassembles HID POS continuation reports, with the AIM id', async () => {
    const long = `01095011015300031721123110${'LOT'.repeat(30)}${GS}21SERIAL`;
    await pos.scan({ text: long, aim: ']Q3', codeId: 's' });
    await pos.scan({ text: '96385074', codeId: 'D' });
    await waitFor(() => scansOf('lane-2-pos').length >= 2, 'pos scans');
    expect(pos.sent.length).toBeGreaterThan(3);
    expect(scansOf('lane-2-pos')).toEqual([
      { deviceId: 'lane-2-pos', text: long, aim: ']Q3', symbology: 'gs1-qr' },
      { deviceId: 'lane-2-pos', text: '96385074', symbology: 'ean-8' },
    ]);
  });

  it('reports an unplug and a replug, and reads again after it', async () => {
    pos.unplug();
    await waitFor(() => statusOf('lane-2-pos').some((s) => s.state === 'unavailable'), 'unavailable');
    pos.plug();
    await waitFor(
      () => statusOf('lane-2-pos').filter((s) => s.state === 'connected').length === 2,
      'reconnected',
    );
    expect(statusOf('lane-2-pos').map((s) => s.state)).toEqual([
      'connected',
      'disconnected',
      'unavailable',
      'connected',
    ]);
    expect(statusOf('lane-2-pos')[1]).toMatchObject({ reason: 'could not read from HID device' });
    await pos.scan({ text: 'after-replug', codeId: 'j' });
    await waitFor(() => scansOf('lane-2-pos').length >= 3, 'scan after replug');
    expect(scansOf('lane-2-pos')[2]).toEqual({
      deviceId: 'lane-2-pos',
      text: 'after-replug',
      symbology: 'code-128',
    });
    const health = running?.gateway.status().devices.find((d) => d.id === 'lane-2-pos');
    expect(health).toMatchObject({ state: 'connected', readings: 3, reopens: 1, decodeErrors: 0 });
  });

  it('counts a wedge scan the layout cannot type as a decode error, never an event', async () => {
    // Usage 0x3A (F1) is no character on any layout.
    await wedge.send([
      Buffer.of(0, 0, 0x3a, 0, 0, 0, 0, 0),
      Buffer.alloc(8),
      Buffer.of(0, 0, 0x28, 0, 0, 0, 0, 0),
      Buffer.alloc(8),
    ]);
    const driver = running?.gateway.driver('lane-1-wedge') as HidScannerDriver | undefined;
    await waitFor(() => driver?.health().decodeErrors === 1, 'decode error counted');
    await wedge.scan({ text: 'next' });
    await waitFor(() => scansOf('lane-1-wedge').length >= 4, 'next wedge scan');
    expect(scansOf('lane-1-wedge').map((s) => s.text)).toHaveLength(4);
  });
});
