import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { SerialScannerConfig } from '../../drivers/serial-scanner/config.js';
import { loadConfigFile } from '../../src/config/load.js';
import { type Config, GatewayConfig } from '../../src/config/schema.js';
import { DEVICE_KINDS } from '../../src/drivers/kinds.js';
import { ERRORS, EXIT } from '../../src/errors.js';
import { EVENT_TYPE_NAMES } from '../../src/events/catalog.js';
import { Metrics } from '../../src/metrics.js';
import { rootPath } from '../../src/paths.js';

/*
 * The shipped config files and the docs must follow the code: the config files validate, the
 * example shows every key, the AsyncAPI document's references resolve, and every metric and error
 * code the code defines is documented.
 */

const read = (path: string) => readFileSync(rootPath(path), 'utf8');

/** True when `doc` has a Markdown table row whose first cell is `cell` in backticks. */
const hasRow = (doc: string, cell: string) =>
  new RegExp(`^\\|\\s*\`${cell.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\`\\s*\\|`, 'm').test(doc);

type SchemaNode = { type?: unknown; properties?: Record<string, SchemaNode> };

/** Dotted paths of every property an object schema declares, nested objects included. */
function keyPaths(schema: SchemaNode, prefix = ''): string[] {
  if (schema.type !== 'object' || !schema.properties) return [];
  return Object.entries(schema.properties).flatMap(([key, child]) => {
    const path = prefix ? `${prefix}.${key}` : key;
    return [path, ...keyPaths(child, path)];
  });
}

function has(value: unknown, path: string): boolean {
  let node = value;
  for (const part of path.split('.')) {
    if (!node || typeof node !== 'object' || !(part in node)) return false;
    node = (node as Record<string, unknown>)[part];
  }
  return true;
}

function loadOk(path: string): Config {
  const result = loadConfigFile(rootPath(path));
  expect(result.ok ? [] : result.issues, `${path} must validate`).toEqual([]);
  if (!result.ok) throw new Error(`${path} is invalid`);
  return result.config;
}

describe('config/example.yaml', () => {
  const text = read('config/example.yaml');
  const raw = parse(text) as Record<string, unknown> & { devices: Record<string, unknown>[] };
  /** A key is shown when it is set, or present as a commented-out line. */
  const shown = (set: boolean, path: string) =>
    set || new RegExp(`^\\s*#\\s*${path.split('.').at(-1)}:`, 'm').test(text);

  it('validates with loadConfigFile', () => {
    const config = loadOk('config/example.yaml');
    expect(config.devices.length).toBeGreaterThanOrEqual(3);
  });

  it('uses every framing mode, and both path and match', () => {
    const config = loadOk('config/example.yaml');
    const serial = config.devices.filter((d): d is SerialScannerConfig => d.kind === 'serial-scanner');
    const framings = serial.map((d) => d.framing);
    expect(framings.some((f) => f.suffix === '\r\n')).toBe(true);
    expect(framings.some((f) => f.stx === true)).toBe(true);
    expect(framings.some((f) => typeof f.idleMs === 'number')).toBe(true);
    expect(serial.some((d) => d.path !== undefined)).toBe(true);
    expect(serial.some((d) => d.match !== undefined)).toBe(true);
    expect(serial.some((d) => d.aim)).toBe(true);
  });

  it('shows every config key', () => {
    const missing = keyPaths(GatewayConfig as SchemaNode).filter((path) => !shown(has(raw, path), path));
    expect(missing).toEqual([]);
  });

  it('shows every key of every device kind', () => {
    for (const [kind, schema] of Object.entries(DEVICE_KINDS)) {
      const devices = raw.devices.filter((d) => d.kind === kind);
      expect(devices.length, `a ${kind} device`).toBeGreaterThan(0);
      const missing = keyPaths(schema as SchemaNode).filter(
        (path) =>
          !shown(
            devices.some((d) => has(d, path)),
            path,
          ),
      );
      expect(missing, kind).toEqual([]);
    }
  });
});

describe('config/default.yaml', () => {
  it('validates and is the installed default', () => {
    const config = loadOk('config/default.yaml');
    expect(config.store.id).toBe('0000');
    expect(config.gateway.id).toBe('gw-1');
    expect(config.buffer.path).toBe('/var/lib/store-gateway/buffer.db');
    expect(config.api).toMatchObject({ enabled: true, host: '127.0.0.1', port: 8080 });
    expect(config.mqtt.url).toMatch(/^mqtt:\/\//);
    expect(config.devices).toEqual([]);
  });

  it('carries a commented scanner example', () => {
    expect(read('config/default.yaml')).toMatch(/^#\s+kind: serial-scanner$/m);
  });
});

describe('README.md config reference', () => {
  const readme = read('README.md');

  it('has a row for every config key', () => {
    const paths = keyPaths(GatewayConfig as SchemaNode).filter(
      (p) => !['store', 'gateway', 'mqtt', 'buffer', 'api', 'log', 'mqtt.reconnect'].includes(p),
    );
    expect(paths.filter((p) => !hasRow(readme, p))).toEqual([]);
  });

  it('has a row for every device key', () => {
    for (const schema of Object.values(DEVICE_KINDS)) {
      const paths = keyPaths(schema as SchemaNode).filter(
        (p) => !['id', 'kind', 'match', 'reopen'].includes(p),
      );
      expect(paths.filter((p) => !hasRow(readme, p))).toEqual([]);
    }
  });
});

describe('docs/asyncapi.yaml', () => {
  const file = rootPath('docs', 'asyncapi.yaml');
  const doc = parse(readFileSync(file, 'utf8'), { uniqueKeys: true }) as Record<string, unknown>;

  const refs: string[] = [];
  const collect = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(collect);
    else if (node && typeof node === 'object') {
      for (const [key, value] of Object.entries(node)) {
        if (key === '$ref' && typeof value === 'string') refs.push(value);
        else collect(value);
      }
    }
  };
  collect(doc);

  const pointer = (ref: string): unknown =>
    ref
      .slice(2)
      .split('/')
      .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
      .reduce<unknown>((node, part) => (node as Record<string, unknown> | undefined)?.[part], doc);

  it('is an AsyncAPI 3.0 document with channels and operations', () => {
    expect(doc.asyncapi).toBe('3.0.0');
    expect(Object.keys(doc.channels as object).length).toBeGreaterThan(0);
    expect(Object.keys(doc.operations as object).length).toBeGreaterThan(0);
  });

  it('has only $refs that resolve', () => {
    expect(refs.length).toBeGreaterThan(0);
    const broken = refs.filter((ref) =>
      ref.startsWith('#/') ? pointer(ref) === undefined : !existsSync(resolve(dirname(file), ref)),
    );
    expect(broken).toEqual([]);
  });

  it('references the schema of every event type', () => {
    const missing = EVENT_TYPE_NAMES.filter(
      (type) => !refs.some((ref) => ref.endsWith(`schemas/events/${type}.json`)),
    );
    expect(missing).toEqual([]);
  });
});

describe('docs cover the code', () => {
  it('OPERATIONS.md names every sg_ metric', async () => {
    const names = (await new Metrics().registry.getMetricsAsJSON()).map((m) => m.name);
    expect(names.length).toBeGreaterThan(0);
    const ops = read('docs/OPERATIONS.md');
    expect(names.filter((name) => !ops.includes(`\`${name}\``))).toEqual([]);
  });

  it('ERRORS.md documents every error code and exit code', () => {
    const errors = read('docs/ERRORS.md');
    const codes = Object.keys(ERRORS);
    expect(codes.length).toBeGreaterThan(0);
    expect(codes.filter((code) => !hasRow(errors, code))).toEqual([]);
    expect(
      Object.values(EXIT).filter((code) => !new RegExp(`^\\|\\s*${code}\\s*\\|`, 'm').test(errors)),
    ).toEqual([]);
  });
});
