import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { SerialScannerConfig } from '../../drivers/serial-scanner/config.js';
import { loadConfigFile, parseConfigText, validateConfig } from '../../src/config/load.js';
import { parseSize } from '../../src/config/types.js';
import { isGatewayError } from '../../src/errors.js';
import type { SchemaIssue } from '../../src/schema/ajv.js';
import { tmpDir } from '../helpers/tmp.js';

const dirs: { cleanup: () => void }[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) d.cleanup();
});

const HEAD = 'store: { id: "0421" }\ngateway: { id: gw-1 }\n';

/** The issues of an invalid config text, as "path: message" lines. */
function issues(text: string): string[] {
  const r = parseConfigText(text);
  expect(r.ok, 'the config should be refused').toBe(false);
  return r.ok ? [] : r.issues.map((i: SchemaIssue) => `${i.path}: ${i.message}`);
}

function issuePaths(text: string): string[] {
  const r = parseConfigText(text);
  expect(r.ok, 'the config should be refused').toBe(false);
  return r.ok ? [] : [...new Set(r.issues.map((i) => i.path))].sort();
}

const scanner = (extra = '') => `  - id: lane-1\n    kind: serial-scanner\n    path: /dev/ttyUSB0\n${extra}`;

describe('config', () => {
  it('applies defaults to a minimal config', () => {
    const r = parseConfigText('store: { id: "0421" }\ngateway: { id: gw-1 }\n');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.config.mqtt.protocolVersion).toBe(5);
    expect(r.config.mqtt.reconnect.maxMs).toBe(30000);
    expect(r.config.buffer.maxBytes).toBe(1024 ** 3);
    expect(r.config.api.port).toBe(8080);
    expect(r.config.devices).toEqual([]);
  });

  it('applies device defaults', () => {
    const r = parseConfigText(`${HEAD}devices:\n${scanner()}`);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.config.devices[0]).toMatchObject({
      id: 'lane-1',
      kind: 'serial-scanner',
      path: '/dev/ttyUSB0',
      baudRate: 9600,
      dataBits: 8,
      parity: 'none',
      stopBits: 1,
      framing: { suffix: '\r\n' },
      aim: false,
      maxFrameBytes: 4096,
      reopen: { minMs: 250, maxMs: 1000 },
    });
  });

  it('accepts each framing mode and a USB match instead of a path', () => {
    const r = parseConfigText(
      `${HEAD}devices:
  - { id: a, kind: serial-scanner, path: /dev/ttyUSB0, framing: { suffix: "\\r" } }
  - { id: b, kind: serial-scanner, path: /dev/ttyUSB1, framing: { stx: true }, aim: true }
  - { id: c, kind: serial-scanner, match: { vendorId: "0c2e", productId: 0b61 }, framing: { idleMs: 50 } }
`,
    );
    expect(r.ok ? r.config.devices.map((d) => (d as SerialScannerConfig).framing) : r.issues).toEqual([
      { suffix: '\r' },
      { stx: true },
      { idleMs: 50 },
    ]);
  });

  it('lists unknown keys at every level by path', () => {
    expect(
      issues(
        `${HEAD}colour: blue\nmqtt: { url: "mqtt://h", qos: 2 }\ndevices:\n${scanner('    speed: 9600\n')}`,
      ),
    ).toEqual(['/: unknown key "colour"', '/mqtt: unknown key "qos"', '/devices/0: unknown key "speed"']);
  });

  it('lists wrong types and out-of-range values by path', () => {
    const found = issues(
      `${HEAD}mqtt: { keepaliveSec: "thirty", url: "http://h" }\napi: { port: 70000, enabled: "yes" }\n`,
    );
    expect(found).toEqual(
      expect.arrayContaining([
        '/mqtt/keepaliveSec: must be integer',
        expect.stringMatching(/^\/mqtt\/url: must match pattern/),
        '/api/port: must be <= 65535',
        '/api/enabled: must be boolean',
      ]),
    );
    expect(found).toHaveLength(4);
  });

  it('lists enum values that are not allowed, with the allowed ones', () => {
    expect(
      issues(
        `${HEAD}mqtt: { protocolVersion: 3 }\nbuffer: { synchronous: OFF }\ndevices:\n${scanner('    parity: mark\n')}`,
      ),
    ).toEqual([
      '/mqtt/protocolVersion: must be one of 5, 4',
      '/buffer/synchronous: must be one of "FULL", "NORMAL", "EXTRA"',
      '/devices/0/parity: must be one of "none", "even", "odd"',
    ]);
  });

  it('lists missing required keys by path', () => {
    expect(issues('mqtt: {}\n')).toEqual(['/store: is required', '/gateway: is required']);
    expect(issues('store: {}\ngateway: { id: "gw 1" }\n')).toEqual([
      '/store/id: is required',
      expect.stringMatching(/^\/gateway\/id: must match pattern/),
    ]);
  });

  it('refuses an unknown device kind', () => {
    expect(issuePaths(`${HEAD}devices:\n  - { id: x, kind: rfid-reader, path: /dev/ttyUSB9 }\n`)).toEqual([
      '/devices/0/kind',
    ]);
  });

  it('refuses a device without path, match or replay, and one with two of them', () => {
    expect(
      issues(`${HEAD}devices:
  - { id: a, kind: serial-scanner }
  - { id: b, kind: serial-scanner, path: /dev/ttyUSB0, match: { vendorId: "0c2e" } }
`),
    ).toEqual([
      '/devices/0: needs exactly one of "path", "match" or "replay"',
      '/devices/1: needs exactly one of "path", "match" or "replay"',
    ]);
  });

  it('refuses duplicate device ids, naming the first one', () => {
    expect(
      issues(`${HEAD}devices:
  - { id: lane-1, kind: serial-scanner, path: /dev/ttyUSB0 }
  - { id: lane-2, kind: serial-scanner, path: /dev/ttyUSB1 }
  - { id: lane-1, kind: serial-scanner, path: /dev/ttyUSB2 }
`),
    ).toEqual(['/devices/2/id: duplicates /devices/0/id']);
  });

  it('refuses framing with two modes, and empty framing', () => {
    const two = issues(`${HEAD}devices:\n${scanner('    framing: { suffix: "\\r\\n", stx: true }\n')}`);
    expect(two).toEqual(['/devices/0/framing: must have exactly one of its keys']);
    const none = issues(`${HEAD}devices:\n${scanner('    framing: {}\n')}`);
    expect(none).toEqual(['/devices/0/framing: must have at least 1 key']);
  });

  it('refuses an over-long suffix and an idle gap out of range', () => {
    expect(
      issuePaths(`${HEAD}devices:
  - { id: a, kind: serial-scanner, path: /dev/a, framing: { suffix: "123456789" } }
  - { id: b, kind: serial-scanner, path: /dev/b, framing: { idleMs: 1 } }
  - { id: c, kind: serial-scanner, path: /dev/c, framing: { stx: false } }
`),
    ).toEqual(['/devices/0/framing/suffix', '/devices/1/framing/idleMs', '/devices/2/framing/stx']);
  });

  it('refuses reconnect and reopen delays where min exceeds max', () => {
    expect(
      issues(
        `${HEAD}mqtt: { reconnect: { minMs: 5000, maxMs: 1000 } }\ndevices:\n${scanner('    reopen: { minMs: 900, maxMs: 100 }\n')}`,
      ),
    ).toEqual([
      '/devices/0/reopen/minMs: must not exceed reopen.maxMs',
      '/mqtt/reconnect/minMs: must not exceed mqtt.reconnect.maxMs',
    ]);
  });

  it('lists every error of a file at once, schema and cross-field rules alike', () => {
    const found = issuePaths(`${HEAD}mqtt: { protocolVersion: 3 }
devices:
  - { id: lane-1, kind: serial-scanner, path: /dev/ttyUSB0 }
  - { id: lane-1, kind: serial-scanner }
`);
    expect(found).toEqual(['/devices/1', '/devices/1/id', '/mqtt/protocolVersion']);
  });

  it('reports YAML syntax errors with line and column', () => {
    const found = issues(`${HEAD}mqtt:\n  url: "mqtt://h\n  protocolVersion: 5\n`);
    expect(found.length).toBeGreaterThan(0);
    expect(found[0]).toMatch(/^\/: YAML \w+ at line \d+, column \d+: /);
    // The line of the offending key, counted from 1 over the whole file.
    const bad = issues(`${HEAD}api:\n  port: 1\n host: x\n`);
    expect(bad[0]).toMatch(/^\/: YAML BAD_INDENT at line 5, column 1: /);
  });

  it('reports a duplicate key with its line', () => {
    expect(issues(`${HEAD}api: { port: 1 }\napi: { port: 2 }\n`)[0]).toMatch(/DUPLICATE_KEY at line 4/);
  });

  it('refuses a file that is not a mapping', () => {
    expect(issues('- a\n- b\n')).toEqual(['/: must be a YAML mapping']);
    expect(issues('')).toEqual(['/: must be a YAML mapping']);
  });

  it('lists the identity rule problems that would otherwise stop the start', () => {
    expect(issues(`${HEAD}identity: { enabled: true, loyaltyIds: hashed }\n`)).toEqual([
      '/identity/loyaltyKeyFile: is required with loyaltyIds: hashed',
    ]);
  });

  it('does not mutate the object it validates', () => {
    const input = { store: { id: '0421' }, gateway: { id: 'gw-1' }, buffer: { maxBytes: '2GiB' } };
    const copy = structuredClone(input);
    const r = validateConfig(input);
    expect(r.ok).toBe(true);
    expect(input).toEqual(copy);
  });

  it('reads a file and reports a missing one as GW_ERR_CONFIG_READ', () => {
    const dir = tmpDir('sg-config-');
    dirs.push(dir);
    const file = join(dir.path, 'gateway.yaml');
    writeFileSync(file, `${HEAD}api: { port: 0 }\n`);
    const r = loadConfigFile(file);
    expect(r.ok && r.config.api.port).toBe(0);
    try {
      loadConfigFile(join(dir.path, 'missing.yaml'));
      expect.unreachable();
    } catch (err) {
      expect(isGatewayError(err, 'GW_ERR_CONFIG_READ')).toBe(true);
      expect((err as Error).message).toContain('missing.yaml');
    }
  });
});

describe('config sizes', () => {
  it('parses sizes with units into bytes', () => {
    const r = parseConfigText(
      `${HEAD}buffer: { maxBytes: "512MiB", minFreeBytes: "2 GB", reserveBytes: 1048576 }\n`,
    );
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.config.buffer.maxBytes).toBe(512 * 1024 ** 2);
    expect(r.config.buffer.minFreeBytes).toBe(2e9);
    expect(r.config.buffer.reserveBytes).toBe(1024 ** 2);
  });

  it.each([
    ['0', 0],
    ['100', 100],
    ['100B', 100],
    ['1kB', 1000],
    ['1KB', 1000],
    ['1KiB', 1024],
    ['1.5MiB', 1.5 * 1024 ** 2],
    ['3 GiB', 3 * 1024 ** 3],
    ['1TB', 1e12],
    ['1TiB', 1024 ** 4],
  ])('parseSize(%j) = %d', (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });

  it('passes numbers through', () => {
    expect(parseSize(4096)).toBe(4096);
  });

  it('throws on what is not a size', () => {
    expect(() => parseSize('lots')).toThrow(/not a size/);
    expect(() => parseSize('12 XB')).toThrow(/unknown size unit/);
  });

  it('refuses a malformed size, a negative one and an unknown unit by path', () => {
    expect(
      issuePaths(`${HEAD}buffer: { maxBytes: "big", minFreeBytes: -1, reserveBytes: "1 MiBs" }\n`),
    ).toEqual(['/buffer/maxBytes', '/buffer/minFreeBytes', '/buffer/reserveBytes']);
  });

  it('refuses a budget under 1MiB, and a reserve of half the budget or more', () => {
    expect(issues(`${HEAD}buffer: { maxBytes: "512KiB" }\n`)).toEqual([
      '/buffer/maxBytes: must be at least 1MiB',
    ]);
    expect(issues(`${HEAD}buffer: { maxBytes: "8MiB", reserveBytes: "4MiB" }\n`)).toEqual([
      '/buffer/reserveBytes: must be under half of maxBytes',
    ]);
  });
});
