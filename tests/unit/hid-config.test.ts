import { describe, expect, it } from 'vitest';
import { matchHidDevice } from '../../drivers/hid-scanner/driver.js';
import type { HidDeviceInfo } from '../../drivers/hid-scanner/transport.js';
import { validateConfig } from '../../src/config/load.js';

const base = (devices: Record<string, unknown>[]) => ({
  store: { id: '0421' },
  gateway: { id: 'gw-1' },
  devices,
});

function devicesOf(devices: Record<string, unknown>[]) {
  const r = validateConfig(base(devices));
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.config.devices;
}

function issuesOf(devices: Record<string, unknown>[]) {
  const r = validateConfig(base(devices));
  return r.ok ? [] : r.issues;
}

describe('hid-scanner config', () => {
  it('fills every default', () => {
    const [d] = devicesOf([{ id: 'h', kind: 'hid-scanner', mode: 'hid-pos', path: '/dev/hidraw0' }]);
    expect(d).toEqual({
      id: 'h',
      kind: 'hid-scanner',
      mode: 'hid-pos',
      path: '/dev/hidraw0',
      replaySpeed: 1,
      wedge: { layout: 'us', terminators: ['enter'], idleMs: 100 },
      aim: false,
      maxScanBytes: 4096,
      partialTimeoutMs: 1000,
      dedupe: { windowMs: 0 },
      reopen: { minMs: 250, maxMs: 1000 },
    });
  });

  it('takes a match on vendor, product, serial number and usage page', () => {
    const [d] = devicesOf([
      {
        id: 'h',
        kind: 'hid-scanner',
        mode: 'keyboard-wedge',
        match: { vendorId: '0C2E', productId: '0b81', serialNumber: 'X1', usagePage: '0001' },
        wedge: { layout: 'fr', terminators: ['enter', 'tab'], idleMs: 50 },
        dedupe: { windowMs: 1500 },
      },
    ]);
    expect(d).toMatchObject({
      wedge: { layout: 'fr', terminators: ['enter', 'tab'] },
      dedupe: { windowMs: 1500 },
    });
  });

  it('lists every problem: mode, layout, dedupe window, match keys', () => {
    const issues = issuesOf([
      {
        id: 'h',
        kind: 'hid-scanner',
        path: '/dev/hidraw0',
        wedge: { layout: 'jp' },
        dedupe: { windowMs: -1 },
        match2: 1,
      },
    ]);
    expect(issues).toEqual([
      { path: '/devices/0/mode', message: 'is required' },
      { path: '/devices/0', message: 'unknown key "match2"' },
      { path: '/devices/0/wedge/layout', message: 'must be one of "us", "uk", "de", "fr"' },
      { path: '/devices/0/dedupe/windowMs', message: 'must be >= 0' },
    ]);
    expect(
      issuesOf([{ id: 'h', kind: 'hid-scanner', mode: 'hid-pos', match: { usagePage: '8c' } }]),
    ).toHaveLength(1);
  });

  it.each([
    ['hid-scanner', { mode: 'hid-pos' }],
    ['serial-scanner', {}],
  ])('%s needs exactly one of path, match or replay', (kind, extra) => {
    const d = { id: 'd', kind, ...extra };
    const msg = 'needs exactly one of "path", "match" or "replay"';
    expect(issuesOf([d])).toEqual([{ path: '/devices/0', message: msg }]);
    expect(issuesOf([{ ...d, path: '/dev/x', replay: 'r.jsonl' }])).toEqual([
      { path: '/devices/0', message: msg },
    ]);
    expect(issuesOf([{ ...d, match: { vendorId: '0c2e' }, path: '/dev/x' }])).toEqual([
      { path: '/devices/0', message: msg },
    ]);
    expect(issuesOf([{ ...d, replay: 'r.jsonl', replaySpeed: 0 }])).toEqual([]);
    expect(issuesOf([{ ...d, replay: 'r.jsonl', replaySpeed: -1 }]).map((i) => i.path)).toEqual([
      '/devices/0/replaySpeed',
    ]);
  });
});

describe('serial-scanner protocol', () => {
  it('is raw by default and may be ssi', () => {
    const [raw, ssi] = devicesOf([
      { id: 'a', kind: 'serial-scanner', path: '/dev/ttyUSB0' },
      { id: 'b', kind: 'serial-scanner', path: '/dev/ttyUSB1', protocol: 'ssi' },
    ]);
    expect(raw).toMatchObject({ protocol: 'raw', replaySpeed: 1 });
    expect(ssi).toMatchObject({ protocol: 'ssi' });
    expect(
      issuesOf([{ id: 'c', kind: 'serial-scanner', path: '/dev/x', protocol: 'snapi' }]).map((i) => i.path),
    ).toEqual(['/devices/0/protocol']);
  });
});

describe('matchHidDevice', () => {
  const devices: HidDeviceInfo[] = [
    { path: '/dev/hidraw3', vendorId: 0x0c2e, productId: 0x0b87, usagePage: 0x8c, serialNumber: 'A' },
    { path: '/dev/hidraw2', vendorId: 0x0c2e, productId: 0x0b87, usagePage: 0x01, serialNumber: 'A' },
    { path: '/dev/hidraw5', vendorId: 0x05e0, productId: 0x1200, usagePage: 0x01, serialNumber: 'Z' },
    { path: '/dev/hidraw4', vendorId: 0x0c2e, productId: 0x0b87, usagePage: 0x8c, serialNumber: 'B' },
  ];

  it('picks the interface with every given field, the first by path', () => {
    expect(matchHidDevice(devices, { vendorId: '0C2E', usagePage: '008c' })?.path).toBe('/dev/hidraw3');
    expect(matchHidDevice(devices, { usagePage: '008c', serialNumber: 'B' })?.path).toBe('/dev/hidraw4');
    expect(matchHidDevice(devices, { vendorId: '0c2e', usagePage: '0001' })?.path).toBe('/dev/hidraw2');
    expect(matchHidDevice(devices, { vendorId: '05e0', productId: '1200' })?.path).toBe('/dev/hidraw5');
    expect(matchHidDevice(devices, { vendorId: '1eab' })).toBeUndefined();
  });
});
