import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { rootPath } from '../../src/paths.js';
import { tmpDir } from '../helpers/tmp.js';

/*
 * systemd/99-store-gateway.rules, checked two ways:
 *  - udev's own parser (`udevadm test` in a private mount namespace, with the rules folder, the
 *    group file, /dev and /run/udev replaced, so nothing on this machine changes): no warning about
 *    our file. This needs root and `unshare`, which CI has. There is no USB scanner here, so udev
 *    runs the rules for ttyS0 only, which they must leave alone;
 *  - a small interpreter of the subset of the rules language the file uses, fed with the
 *    properties udev's usb_id and path_id builtins give a real scanner, for the names and modes.
 * Not checked here: matching on real USB hardware (udevadm verify needs systemd 254).
 */

const RULES = rootPath('systemd', '99-store-gateway.rules');

interface Device {
  action: string;
  subsystem: string;
  kernel: string;
  /** Subsystems of the device and its parents. */
  subsystems: string[];
  /** What IMPORT{builtin}="usb_id" / "path_id" would add. */
  builtins: Record<string, Record<string, string>>;
  env?: Record<string, string>;
}

interface Result {
  env: Record<string, string>;
  symlinks: string[];
  group?: string;
  mode?: string;
}

type Clause = { key: string; attr?: string; op: string; value: string };

/** One rule per logical line (backslash continuations joined), comments dropped. */
function parseRules(text: string): Clause[][] {
  const logical = text.replace(/\\\n\s*/g, '').split('\n');
  const rules: Clause[][] = [];
  for (const raw of logical) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const clauses: Clause[] = [];
    const re = /\s*([A-Z_]+)(?:\{([^}]*)\})?\s*(==|!=|\+=|=)\s*"([^"]*)"\s*(,|$)/gy;
    let m: RegExpExecArray | null;
    let end = 0;
    for (m = re.exec(line); m; m = re.exec(line)) {
      clauses.push({ key: m[1] as string, attr: m[2], op: m[3] as string, value: m[4] as string });
      end = re.lastIndex;
      if (end >= line.length) break;
    }
    if (end !== line.length) throw new Error(`cannot parse rule: ${line}`);
    rules.push(clauses);
  }
  return rules;
}

/** udev's glob: '|' separates alternatives; '*', '?' and '[...]' as in fnmatch. */
function globMatch(pattern: string, value: string): boolean {
  return pattern.split('|').some((alt) => {
    const re = alt
      .replace(/[.+^${}()\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.');
    return new RegExp(`^${re}$`).test(value);
  });
}

const KNOWN_KEYS = new Set([
  'ACTION',
  'SUBSYSTEM',
  'SUBSYSTEMS',
  'KERNEL',
  'ENV',
  'IMPORT',
  'GOTO',
  'LABEL',
  'SYMLINK',
  'GROUP',
  'MODE',
]);

function evaluate(rules: Clause[][], dev: Device): Result {
  const env: Record<string, string> = { ...dev.env };
  const result: Result = { env, symlinks: [] };
  const subst = (v: string) => v.replace(/\$env\{([^}]+)\}/g, (_, k: string) => env[k] ?? '');
  const labels = new Map<string, number>();
  rules.forEach((r, i) => {
    for (const c of r) if (c.key === 'LABEL') labels.set(c.value, i);
  });
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i] as Clause[];
    const matches = rule.every((c) => {
      if (c.op !== '==' && c.op !== '!=') return true;
      const test = (actual: string | string[]) => {
        const hit = [actual].flat().some((a) => globMatch(c.value, a));
        return c.op === '==' ? hit : !hit;
      };
      switch (c.key) {
        case 'ACTION':
          return test(dev.action);
        case 'SUBSYSTEM':
          return test(dev.subsystem);
        case 'SUBSYSTEMS':
          if (c.op === '!=') throw new Error('SUBSYSTEMS!= matches the node itself; never use it');
          return test(dev.subsystems);
        case 'KERNEL':
          return test(dev.kernel);
        case 'ENV':
          return test(env[c.attr as string] ?? '');
        default:
          throw new Error(`unsupported match key ${c.key}`);
      }
    });
    if (!matches) continue;
    for (const c of rule) {
      if (c.op === '==' || c.op === '!=') continue;
      if (!KNOWN_KEYS.has(c.key)) throw new Error(`unsupported key ${c.key}`);
      if (c.key === 'IMPORT') Object.assign(env, dev.builtins[c.value] ?? {});
      else if (c.key === 'ENV') env[c.attr as string] = subst(c.value);
      else if (c.key === 'SYMLINK') result.symlinks.push(subst(c.value));
      else if (c.key === 'GROUP') result.group = c.value;
      else if (c.key === 'MODE') result.mode = c.value;
      else if (c.key === 'GOTO') {
        const to = labels.get(c.value);
        if (to === undefined) throw new Error(`GOTO ${c.value} has no LABEL`);
        i = to - 1;
        break;
      }
    }
  }
  return result;
}

/** What usb_id and path_id report for a scanner (values as udev formats them). */
function usbScanner(o: {
  subsystem: 'tty' | 'hidraw';
  kernel: string;
  vendor: string;
  product: string;
  serial?: string;
  iface?: string;
  pathTag?: string;
}): Device {
  const usb: Record<string, string> = {
    ID_BUS: 'usb',
    ID_VENDOR_ID: o.vendor,
    ID_MODEL_ID: o.product,
    ID_USB_INTERFACE_NUM: o.iface ?? '00',
  };
  if (o.serial) usb.ID_SERIAL_SHORT = o.serial;
  return {
    action: 'add',
    subsystem: o.subsystem,
    kernel: o.kernel,
    subsystems: [o.subsystem, 'usb', 'pci'],
    builtins: {
      usb_id: usb,
      path_id: {
        ID_PATH: 'pci-0000:00:14.0-usb-0:2:1.0',
        ID_PATH_TAG: o.pathTag ?? 'pci-0000_00_14_0-usb-0_2_1_0',
      },
    },
  };
}

describe('udev rules: stable scanner names and access', () => {
  const rules = parseRules(readFileSync(RULES, 'utf8'));

  it('names a Zebra serial scanner by vendor, product and serial, and keeps ModemManager away', () => {
    const r = evaluate(
      rules,
      usbScanner({ subsystem: 'tty', kernel: 'ttyACM0', vendor: '05e0', product: '1701', serial: 'S19283' }),
    );
    expect(r.symlinks).toEqual(['store-gateway/zebra-1701-S19283']);
    expect(r.env.ID_MM_DEVICE_IGNORE).toBe('1');
    expect(r.group).toBeUndefined(); // serial ports stay with dialout
  });

  it('gives each known vendor its name', () => {
    const names = Object.entries({
      '0c2e': 'honeywell',
      '05f9': 'datalogic',
      '1eab': 'newland',
      '067e': 'intermec',
    });
    for (const [vendor, name] of names) {
      const r = evaluate(
        rules,
        usbScanner({ subsystem: 'tty', kernel: 'ttyUSB3', vendor, product: '0a01', serial: 'X1' }),
      );
      expect(r.symlinks).toEqual([`store-gateway/${name}-0a01-X1`]);
    }
  });

  it('gives the HID interfaces of a scanner to the store-gateway group, named by interface', () => {
    const r = evaluate(
      rules,
      usbScanner({
        subsystem: 'hidraw',
        kernel: 'hidraw2',
        vendor: '0c2e',
        product: '0b87',
        serial: 'HW77',
        iface: '01',
      }),
    );
    expect(r.symlinks).toEqual(['store-gateway/honeywell-0b87-HW77-hid01']);
    expect(r.group).toBe('store-gateway');
    expect(r.mode).toBe('0660');
  });

  it('names a scanner without a serial number by its USB port', () => {
    const r = evaluate(
      rules,
      usbScanner({
        subsystem: 'tty',
        kernel: 'ttyACM1',
        vendor: '1eab',
        product: '1d06',
        pathTag: 'pci-0000_00_14_0-usb-0_3_1_0',
      }),
    );
    expect(r.symlinks).toEqual(['store-gateway/newland-1d06-port-pci-0000_00_14_0-usb-0_3_1_0']);
  });

  it('leaves other USB devices alone: a keyboard hidraw node stays root-only', () => {
    const r = evaluate(
      rules,
      usbScanner({ subsystem: 'hidraw', kernel: 'hidraw0', vendor: '046d', product: 'c31c', serial: 'K1' }),
    );
    expect(r.symlinks).toEqual([]);
    expect(r.group).toBeUndefined();
  });

  it('takes a model named by a local rules file that runs first', () => {
    // docs/OPERATIONS.md: 98-store-gateway-local.rules sets SG_SCANNER for an FTDI adapter's serial.
    const dev = usbScanner({
      subsystem: 'tty',
      kernel: 'ttyUSB0',
      vendor: '0403',
      product: '6001',
      serial: 'A10K3XYZ',
    });
    dev.env = { SG_SCANNER: 'lane1' };
    expect(evaluate(rules, dev).symlinks).toEqual(['store-gateway/lane1-6001-A10K3XYZ']);
  });

  it('ignores built-in serial ports, removals and devices without a USB parent', () => {
    const builtin: Device = {
      action: 'add',
      subsystem: 'tty',
      kernel: 'ttyS0',
      subsystems: ['tty', 'pnp'],
      builtins: {},
    };
    expect(evaluate(rules, builtin).symlinks).toEqual([]);
    const removal = usbScanner({
      subsystem: 'tty',
      kernel: 'ttyACM0',
      vendor: '05e0',
      product: '1701',
      serial: 'S1',
    });
    removal.action = 'remove';
    expect(evaluate(rules, removal).symlinks).toEqual([]);
  });
});

describe('udev rules: udev parses them without a warning', () => {
  const dir = tmpDir('sg-udev-');
  afterAll(() => dir.cleanup());

  /** `udevadm test` for ttyS0 with only `rulesFile` installed, isolated in a mount namespace. */
  function udevTest(rulesFile: string): string {
    const rulesDir = join(dir.path, `rules-${Math.random().toString(36).slice(2)}`);
    mkdirSync(rulesDir);
    copyFileSync(rulesFile, join(rulesDir, '99-store-gateway.rules'));
    // udev resolves GROUP= names when it reads the rules: give it a group file that has ours.
    const group = join(dir.path, 'group');
    writeFileSync(group, `${readFileSync('/etc/group', 'utf8')}store-gateway:x:64999:\n`);
    const script = [
      'mount --make-rprivate /',
      `mount --bind ${rulesDir} /etc/udev/rules.d`,
      `mount --bind ${group} /etc/group`,
      'mount -t tmpfs tmpfs /run/udev',
      'mount -t tmpfs tmpfs /dev',
      'exec udevadm test --action=add /class/tty/ttyS0',
    ].join(' && ');
    const r = spawnSync('unshare', ['-m', 'sh', '-c', script], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`udevadm test failed (needs root and unshare): ${r.stderr}`);
    return `${r.stdout}\n${r.stderr}`;
  }

  /** udev's complaints about our file: "<path>:<line> <problem>". */
  const complaints = (out: string) =>
    out.split('\n').filter((l) => l.includes('/etc/udev/rules.d/99-store-gateway.rules:'));

  it('reads the shipped file with no complaint', () => {
    const out = udevTest(RULES);
    expect(out).toContain('Reading rules file: /etc/udev/rules.d/99-store-gateway.rules');
    expect(complaints(out)).toEqual([]);
    // ttyS0 is not a USB scanner: no store-gateway name.
    expect(out).not.toMatch(/store-gateway\//);
  });

  it('does complain about a broken copy (the check can fail)', () => {
    const broken = join(dir.path, 'broken.rules');
    writeFileSync(broken, `${readFileSync(RULES, 'utf8')}ENV{X}=="1", SYMLNK+="oops"\nGOTO="nowhere"\n`);
    const found = complaints(udevTest(broken));
    expect(found.some((l) => l.includes("Invalid key 'SYMLNK'"))).toBe(true);
    expect(found.some((l) => l.includes('nowhere'))).toBe(true);
  });
});
