import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SerialScannerDriver } from '../../drivers/serial-scanner/driver.js';
import { NAK_CAUSE, SSI_OPCODE } from '../../drivers/serial-scanner/ssi.js';
import { CentralCommandClient } from '../../simulators/central.js';
import { profileDevice } from '../../simulators/profiles.js';
import { SimulatedSsiScanner } from '../../simulators/ssi-scanner.js';
import { type Running, startGateway } from '../../src/cli/run.js';
import { validateConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/logger.js';
import { Collector } from '../helpers/collector.js';
import { testConfig } from '../helpers/config.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

describe('Zebra SSI scanner on a PTY → gateway → Mosquitto', () => {
  let broker: Mosquitto;
  let collector: Collector;
  let running: Running | undefined;
  const dir = tmpDir();
  const scanner = new SimulatedSsiScanner({ linkPath: join(dir.path, 'zebra-ssi'), ackTimeoutMs: 1000 });
  const driver = () => running?.gateway.driver('lane-ssi') as SerialScannerDriver;

  beforeAll(async () => {
    broker = await Mosquitto.start();
    collector = await Collector.start(broker.url);
    await scanner.plug();
    const checked = validateConfig(
      testConfig({
        dir: dir.path,
        mqttUrl: broker.url,
        devices: [profileDevice('zebra-ssi', 'lane-ssi', scanner.options.linkPath)],
      }),
    );
    if (!checked.ok) throw new Error(JSON.stringify(checked.issues));
    running = await startGateway(checked.config, { log: silentLogger() });
    await waitFor(() => driver()?.health().state === 'connected', 'connected');
  });

  afterAll(async () => {
    await running?.stop();
    await collector?.stop();
    await scanner.unplug();
    await broker?.dispose();
    dir.cleanup();
  });

  const scans = () =>
    collector
      .unique('retail.scan.v1')
      .map((r) => r.event?.data as Record<string, unknown>)
      .map(({ text, symbology }) => ({ text, symbology }));

  it('acknowledges DECODE_DATA and emits the scan with its code type', async () => {
    const outcome = await scanner.scan('4006381333931', { codeType: 0x0b });
    expect(outcome).toEqual({ acked: true, transmissions: 1, naks: [] });
    await collector.waitForUnique(1, 'retail.scan.v1');
    expect(scans()).toEqual([{ text: '4006381333931', symbology: 'ean-13' }]);
    expect(scanner.acks).toBe(1);
  });

  it('NAKs a bad checksum with RESEND; the retransmission becomes one event', async () => {
    const outcome = await scanner.scan('0123456789', { codeType: 0x03, corruptFirst: true });
    expect(outcome).toEqual({ acked: true, transmissions: 2, naks: [NAK_CAUSE.resend] });
    await collector.waitForUnique(2, 'retail.scan.v1');
    expect(scans()[1]).toEqual({ text: '0123456789', symbology: 'code-128' });
  });

  it('drops a retransmitted copy of a frame it already acknowledged (lost ACK): no duplicate event', async () => {
    const outcome = await scanner.scan('96385074', { codeType: 0x0a, loseFirstAck: true });
    expect(outcome.transmissions).toBe(2);
    await collector.waitForUnique(3, 'retail.scan.v1');
    await waitFor(() => driver().health().decodeErrors >= 2, 'duplicate counted');
    // A marker scan after it: anything extra would have arrived before it.
    await scanner.scan('marker', { codeType: 0x03 });
    await collector.waitForUnique(4, 'retail.scan.v1');
    expect(scans().map((s) => s.text)).toEqual(['4006381333931', '0123456789', '96385074', 'marker']);
  });

  it('joins a multi-packet DECODE_DATA', async () => {
    const text = `https://id.gs1.org/01/09506000134352/10/${'A'.repeat(300)}`;
    const outcome = await scanner.scan(text, { codeType: 0x1c, packetData: 100 });
    expect(outcome).toMatchObject({ acked: true, transmissions: 4 });
    await collector.waitForUnique(5, 'retail.scan.v1');
    expect(scans()[4]).toEqual({ text, symbology: 'qr' });
  });

  it('sends host commands (beep, scan disable, scan enable) and waits for the scanner ACK', async () => {
    const before = scanner.commands.length;
    await expect(driver().hostCommand('beep', { tone: 1 })).resolves.toEqual({ ok: true });
    await expect(driver().hostCommand('scan-disable')).resolves.toEqual({ ok: true });
    expect(scanner.enabled).toBe(false);
    await expect(driver().hostCommand('scan-enable')).resolves.toEqual({ ok: true });
    expect(scanner.enabled).toBe(true);
    const sent = scanner.commands.slice(before);
    expect(sent.map((f) => f.opcode)).toEqual([
      SSI_OPCODE.beep,
      SSI_OPCODE.scanDisable,
      SSI_OPCODE.scanEnable,
    ]);
    expect(sent[0]?.data).toEqual(Buffer.of(1));
    expect(scanner.wakeups).toBeGreaterThanOrEqual(3);
    scanner.denyCommands = true;
    await expect(driver().hostCommand('beep')).resolves.toEqual({
      ok: false,
      error: 'nak',
      detail: 'cause 0x6',
    });
    scanner.denyCommands = false;
  });

  it('takes beep, disable and enable from central as device commands over MQTT', async () => {
    const central = await CentralCommandClient.connect({
      url: broker.url,
      store: '0421',
      gateway: 'gw-test',
    });
    try {
      const before = scanner.commands.length;
      const list = await central.send('list-devices');
      expect(list.ok).toBe(true);
      const devices = (list as { result: { devices: { id: string; commands: string[] }[] } }).result.devices;
      expect(devices.find((d) => d.id === 'lane-ssi')?.commands).toEqual(['beep', 'enable', 'disable']);
      for (const command of ['beep', 'disable', 'enable']) {
        const reply = await central.send('device-command', { args: { device: 'lane-ssi', command } });
        expect(reply).toMatchObject({ ok: true, result: { device: 'lane-ssi', command } });
      }
      expect(scanner.commands.slice(before).map((f) => f.opcode)).toEqual([
        SSI_OPCODE.beep,
        SSI_OPCODE.scanDisable,
        SSI_OPCODE.scanEnable,
      ]);
      scanner.denyCommands = true;
      const refused = await central.send('device-command', { args: { device: 'lane-ssi', command: 'beep' } });
      expect(refused).toMatchObject({ ok: false, error: { code: 'GW_ERR_DEVICE_COMMAND_FAILED' } });
      scanner.denyCommands = false;
    } finally {
      await central.close();
    }
  });

  it('counts exactly one event per barcode over the whole session', async () => {
    await waitFor(() => driver().health().readings === 5, 'five readings');
    expect(collector.unique('retail.scan.v1')).toHaveLength(5);
    const health = driver().health();
    expect(health).toMatchObject({ state: 'connected', readings: 5 });
  });
});
