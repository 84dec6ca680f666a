import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';

export interface TestConfigOptions {
  dir: string;
  mqttUrl: string;
  protocolVersion?: 4 | 5;
  devices?: Record<string, unknown>[];
  store?: string;
  gateway?: string;
  /** Deep-merged over the generated config. */
  extra?: Record<string, unknown>;
}

function merge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const cur = out[k];
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && cur && typeof cur === 'object' && !Array.isArray(cur)
        ? merge(cur as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}

/** A config object for one test gateway: temp buffer, API on a free port, quiet logs. */
export function testConfig(o: TestConfigOptions): Record<string, unknown> {
  const base = {
    store: { id: o.store ?? '0421' },
    gateway: { id: o.gateway ?? 'gw-test' },
    mqtt: {
      url: o.mqttUrl,
      protocolVersion: o.protocolVersion ?? 5,
      keepaliveSec: 10,
      reconnect: { minMs: 100, maxMs: 1000 },
    },
    buffer: { path: join(o.dir, 'buffer.db'), minFreeBytes: '1MiB' },
    api: { host: '127.0.0.1', port: 0 },
    log: { level: 'info' },
    devices: o.devices ?? [],
  };
  return o.extra ? merge(base, o.extra) : base;
}

export function writeConfig(path: string, config: Record<string, unknown>): string {
  writeFileSync(path, stringify(config));
  return path;
}

export const configPath = (dir: string) => join(dir, 'config.yaml');
