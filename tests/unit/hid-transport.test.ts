import { describe, expect, it } from 'vitest';
import type { HidScannerConfig } from '../../drivers/hid-scanner/config.js';
import { HidScannerDriver } from '../../drivers/hid-scanner/driver.js';
import { nodeHidTransport } from '../../drivers/hid-scanner/transport.js';
import { systemClock } from '../../src/clock.js';
import { validateConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/logger.js';
import { Metrics } from '../../src/metrics.js';

/*
 * The real node-hid binding (a native addon over hidraw/libusb-1.0), loaded on first use. This
 * machine has no USB or HID kernel support, so the binding loads but finds no devices.
 */
describe('nodeHidTransport (real node-hid)', () => {
  it('loads lazily and lists the HID devices there are', async () => {
    const devices = await nodeHidTransport.list();
    expect(Array.isArray(devices)).toBe(true);
    for (const d of devices) {
      expect(typeof d.path).toBe('string');
      expect(typeof d.vendorId).toBe('number');
    }
  });

  it('fails to open a device that is not there with an error, not a crash', async () => {
    await expect(nodeHidTransport.open('/dev/hidraw-sg-test-missing')).rejects.toThrow(Error);
  });
});

describe('HidScannerDriver on the real binding', () => {
  it('reports a missing device unavailable, keeps retrying, and stops cleanly', async () => {
    const checked = validateConfig({
      store: { id: 's' },
      gateway: { id: 'g' },
      devices: [{ id: 'h', kind: 'hid-scanner', mode: 'hid-pos', path: '/dev/hidraw-sg-test-missing' }],
    });
    if (!checked.ok) throw new Error(JSON.stringify(checked.issues));
    const events: { type: string; data: unknown }[] = [];
    const driver = new HidScannerDriver('h');
    const abort = new AbortController();
    await driver.start({
      config: checked.config.devices[0] as HidScannerConfig,
      log: silentLogger(),
      clock: systemClock,
      metrics: new Metrics(),
      signal: abort.signal,
      emit: (type, data) => events.push({ type, data }),
      transport: nodeHidTransport,
    });
    expect(driver.health()).toMatchObject({ state: 'unavailable', path: '/dev/hidraw-sg-test-missing' });
    expect(events).toEqual([
      {
        type: 'retail.device.status.v1',
        data: expect.objectContaining({
          deviceId: 'h',
          kind: 'hid-scanner',
          state: 'unavailable',
          attempt: 0,
        }),
      },
    ]);
    abort.abort();
    await driver.stop();
    expect(driver.health().state).toBe('stopped');
  });
});
