import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { rootPath } from '../../src/paths.js';
import { FREEZE_ENV } from '../../src/systemd/freeze-hook.js';

/*
 * The unit file's contract with the code: what `systemd-analyze security` cannot tell (that the
 * service runs the benchmarked V8 flags, that readiness is by notification, that the test hook is
 * unset, that the credentials the docs name are loaded). The sandbox score itself is checked by
 * scripts/check-unit-security.sh in CI.
 */

type Unit = Map<string, string[]>;

/** `Section.Key` → every value assigned, in order (continuation lines joined). */
function parseUnit(text: string): Unit {
  const unit: Unit = new Map();
  let section = '';
  for (const raw of text.replace(/\\\n/g, ' ').split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = header[1] as string;
      continue;
    }
    const eq = line.indexOf('=');
    const key = `${section}.${line.slice(0, eq).trim()}`;
    unit.set(key, [...(unit.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return unit;
}

const unit = parseUnit(readFileSync(rootPath('systemd', 'store-gateway.service'), 'utf8'));
const ble = parseUnit(readFileSync(rootPath('systemd', 'store-gateway.service.d', 'ble.conf'), 'utf8'));
const one = (u: Unit, key: string) => {
  const values = u.get(key) ?? [];
  expect(values, key).toHaveLength(1);
  return values[0] as string;
};
const words = (u: Unit, key: string) => (u.get(key) ?? []).flatMap((v) => v.split(/\s+/)).filter(Boolean);

/** bench/run.ts runs a script at import, so its SERVICE_NODE_FLAGS are read from the source text. */
function serviceNodeFlags(): string[] {
  const text = readFileSync(rootPath('bench', 'run.ts'), 'utf8');
  const m = /export const SERVICE_NODE_FLAGS = (\[[^\]]*\]);/.exec(text);
  if (!m) throw new Error('SERVICE_NODE_FLAGS not found in bench/run.ts');
  return JSON.parse((m[1] as string).replace(/'/g, '"')) as string[];
}

describe('systemd/store-gateway.service', () => {
  it('runs node with the V8 flags the benchmarks measured (bench/run.ts SERVICE_NODE_FLAGS)', () => {
    const argv = one(unit, 'Service.ExecStart').split(/\s+/);
    const script = argv.indexOf('/opt/store-gateway/bin/store-gateway.js');
    expect(argv[0]).toBe('/usr/bin/node');
    expect(script).toBeGreaterThan(0);
    expect(argv.slice(1, script)).toEqual(serviceNodeFlags());
    expect(argv.slice(script + 1)).toEqual(['run', '--config', '/etc/store-gateway/config.yaml']);
  });

  it('is a notify service with a watchdog, reloaded by SIGHUP, not restarted on a bad config', () => {
    expect(one(unit, 'Service.Type')).toBe('notify');
    expect(one(unit, 'Service.NotifyAccess')).toBe('main');
    expect(one(unit, 'Service.WatchdogSec')).toBe('30s');
    expect(one(unit, 'Service.ExecReload')).toBe('/bin/kill -HUP $MAINPID');
    expect(one(unit, 'Service.Restart')).toBe('on-failure');
    expect(one(unit, 'Service.RestartPreventExitStatus')).toBe('78');
  });

  it('can never switch on the watchdog test hook', () => {
    expect(words(unit, 'Service.UnsetEnvironment')).toContain(FREEZE_ENV);
    expect(unit.has('Service.Environment')).toBe(false);
  });

  it('runs as the dedicated user with dialout, its state and config directories, the config writable', () => {
    expect(one(unit, 'Service.User')).toBe('store-gateway');
    expect(one(unit, 'Service.Group')).toBe('store-gateway');
    expect(words(unit, 'Service.SupplementaryGroups')).toEqual(['dialout']);
    expect(one(unit, 'Service.StateDirectory')).toBe('store-gateway');
    expect(one(unit, 'Service.ConfigurationDirectory')).toBe('store-gateway');
    expect(words(unit, 'Service.ReadWritePaths')).toEqual(['/etc/store-gateway']);
  });

  it('loads each secret as a credential from the credstore', () => {
    const creds = (unit.get('Service.LoadCredential') ?? []).map((v) => v.split(':'));
    expect(creds).toEqual([
      ['mqtt-password', 'store-gateway.mqtt-password'],
      ['mqtt-client-key', 'store-gateway.mqtt-client-key'],
      ['api-tokens', 'store-gateway.api-tokens'],
      ['meraki-validator', 'store-gateway.meraki-validator'],
      ['meraki-secret', 'store-gateway.meraki-secret'],
      ['loyalty-app-key', 'store-gateway.loyalty-app-key'],
    ]);
    const ops = readFileSync(rootPath('docs', 'OPERATIONS.md'), 'utf8');
    for (const [id, file] of creds) {
      expect(ops.includes(`/etc/credstore/${file}`), `docs/OPERATIONS.md names /etc/credstore/${file}`).toBe(
        true,
      );
      const copy = `/run/credentials/store-gateway.service/${id}`;
      expect(ops.includes(copy), `docs/OPERATIONS.md names ${copy}`).toBe(true);
    }
  });

  it('allows the scanner devices only, no capabilities, and never MemoryDenyWriteExecute', () => {
    expect(one(unit, 'Service.DevicePolicy')).toBe('closed');
    expect(unit.get('Service.DeviceAllow')).toEqual([
      'char-ttyUSB rw',
      'char-ttyACM rw',
      'char-ttyS rw',
      'char-hidraw rw',
    ]);
    expect(one(unit, 'Service.CapabilityBoundingSet')).toBe('');
    expect(one(unit, 'Service.NoNewPrivileges')).toBe('yes');
    expect(one(unit, 'Service.ProtectSystem')).toBe('strict');
    expect(words(unit, 'Service.RestrictAddressFamilies')).toEqual([
      'AF_UNIX',
      'AF_INET',
      'AF_INET6',
      'AF_NETLINK',
    ]);
    expect(unit.has('Service.MemoryDenyWriteExecute')).toBe(false);
    expect(unit.has('Service.PrivateDevices')).toBe(false);
  });

  it('has a BLE drop-in that adds exactly the raw HCI socket and its two capabilities', () => {
    expect(words(ble, 'Service.RestrictAddressFamilies')).toEqual(['AF_BLUETOOTH']);
    expect(words(ble, 'Service.CapabilityBoundingSet')).toEqual(['CAP_NET_RAW', 'CAP_NET_ADMIN']);
    expect(words(ble, 'Service.AmbientCapabilities')).toEqual(['CAP_NET_RAW', 'CAP_NET_ADMIN']);
    expect([...ble.keys()].sort()).toEqual([
      'Service.AmbientCapabilities',
      'Service.CapabilityBoundingSet',
      'Service.RestrictAddressFamilies',
    ]);
  });
});
