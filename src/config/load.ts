import { readFileSync } from 'node:fs';
import { isMap, LineCounter, parseDocument } from 'yaml';
import { DEVICE_KINDS, type DeviceKind } from '../drivers/kinds.js';
import { GatewayError } from '../errors.js';
import { identityConfigIssues } from '../identity/rules.js';
import { presenceConfigIssues } from '../presence/config-rules.js';
import { createAjv, describeErrors, type SchemaIssue } from '../schema/ajv.js';
import { type Config, GatewayConfig } from './schema.js';
import { parseSize, relaxDefaults } from './types.js';

export type ConfigResult = { ok: true; config: Config } | { ok: false; issues: SchemaIssue[] };

const ajv = createAjv({ allErrors: true, useDefaults: true });
const validateTop = ajv.compile(relaxDefaults(GatewayConfig));
const validateKind = Object.fromEntries(
  Object.entries(DEVICE_KINDS).map(([kind, schema]) => [kind, ajv.compile(relaxDefaults(schema))]),
) as Record<DeviceKind, ReturnType<typeof ajv.compile>>;

/** Parses YAML text into a plain value; syntax errors become issues with line and column. */
export function parseYaml(text: string): { value: unknown; issues: SchemaIssue[] } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const issues = doc.errors.map((e) => {
    const pos = lineCounter.linePos(e.pos[0]);
    return {
      path: '/',
      message: `YAML ${e.code} at line ${pos.line}, column ${pos.col}: ${e.message.split('\n')[0]}`,
    };
  });
  if (issues.length > 0) return { value: undefined, issues };
  if (!isMap(doc.contents))
    return { value: undefined, issues: [{ path: '/', message: 'must be a YAML mapping' }] };
  return { value: doc.toJS(), issues: [] };
}

/**
 * Validates a parsed config, applies defaults and lists every problem by path. The input is not
 * mutated; each device entry is checked against the schema of its own kind.
 */
export function validateConfig(input: unknown): ConfigResult {
  const value = structuredClone(input);
  const issues: SchemaIssue[] = [];
  if (!validateTop(value)) issues.push(...describeErrors(validateTop.errors));
  const cfg = value as Record<string, unknown>;
  const devices = Array.isArray(cfg?.devices) ? (cfg.devices as Record<string, unknown>[]) : [];
  devices.forEach((device, i) => {
    const kind = device?.kind as DeviceKind;
    const validate = validateKind[kind];
    if (validate && !validate(device)) issues.push(...describeErrors(validate.errors, `/devices/${i}`));
  });
  issues.push(...semanticIssues(cfg));
  // Presence rules need the whole section with its defaults: only once the schema is satisfied.
  if (issues.length === 0) issues.push(...presenceConfigIssues(value as Config));
  const identity = (value as Config).identity;
  if (issues.length === 0 && identity) issues.push(...identityConfigIssues(identity));
  if (issues.length > 0) return { ok: false, issues };
  const config = value as Config;
  config.buffer.maxBytes = parseSize(config.buffer.maxBytes);
  config.buffer.minFreeBytes = parseSize(config.buffer.minFreeBytes);
  config.buffer.reserveBytes = parseSize(config.buffer.reserveBytes);
  return { ok: true, config };
}

type Loose = Record<string, unknown> | undefined;
const obj = (v: unknown): Loose =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);
const size = (v: unknown): number | undefined => {
  try {
    return typeof v === 'number' || typeof v === 'string' ? parseSize(v) : undefined;
  } catch {
    return undefined;
  }
};

/**
 * Rules a JSON Schema cannot express. They run even when the schema found problems (so every error
 * is listed at once) and skip any value whose shape is already wrong.
 */
function semanticIssues(config: Loose): SchemaIssue[] {
  const issues: SchemaIssue[] = [];
  const ids = new Map<unknown, number>();
  const devices = Array.isArray(config?.devices) ? (config.devices as unknown[]) : [];
  devices.forEach((entry, i) => {
    const device = obj(entry);
    if (!device) return;
    if (typeof device.id === 'string') {
      const first = ids.get(device.id);
      if (first !== undefined)
        issues.push({ path: `/devices/${i}/id`, message: `duplicates /devices/${first}/id` });
      else ids.set(device.id, i);
    }
    const sources = ['path', 'match', 'replay'].filter((k) => device[k] !== undefined);
    if ((device.kind === 'serial-scanner' || device.kind === 'hid-scanner') && sources.length !== 1) {
      issues.push({ path: `/devices/${i}`, message: 'needs exactly one of "path", "match" or "replay"' });
    }
    const reopen = obj(device.reopen);
    const [min, max] = [num(reopen?.minMs), num(reopen?.maxMs)];
    if (min !== undefined && max !== undefined && min > max) {
      issues.push({ path: `/devices/${i}/reopen/minMs`, message: 'must not exceed reopen.maxMs' });
    }
  });
  const reconnect = obj(obj(config?.mqtt)?.reconnect);
  const [min, max] = [num(reconnect?.minMs), num(reconnect?.maxMs)];
  if (min !== undefined && max !== undefined && min > max) {
    issues.push({ path: '/mqtt/reconnect/minMs', message: 'must not exceed mqtt.reconnect.maxMs' });
  }
  const buffer = obj(config?.buffer);
  const maxBytes = size(buffer?.maxBytes);
  const reserve = size(buffer?.reserveBytes);
  if (maxBytes !== undefined && maxBytes < 1024 * 1024) {
    issues.push({ path: '/buffer/maxBytes', message: 'must be at least 1MiB' });
  } else if (maxBytes !== undefined && reserve !== undefined && reserve >= maxBytes / 2) {
    issues.push({ path: '/buffer/reserveBytes', message: 'must be under half of maxBytes' });
  }
  return issues;
}

export function parseConfigText(text: string): ConfigResult {
  const parsed = parseYaml(text);
  if (parsed.issues.length > 0) return { ok: false, issues: parsed.issues };
  return validateConfig(parsed.value);
}

export function loadConfigFile(path: string): ConfigResult {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new GatewayError('GW_ERR_CONFIG_READ', `cannot read ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return parseConfigText(text);
}
