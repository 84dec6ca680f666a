import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join, relative, sep } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT, rootPath } from '../../src/paths.js';
import { tmpDir } from '../helpers/tmp.js';

/*
 * systemd/install.sh --root DIR: the installer run into a root file system folder, where no
 * systemd runs (as when an image is prepared, and in CI). It must create the account, the
 * directories with their modes and owners, the config, the unit and the udev rules, and enable the
 * unit offline (the multi-user.target.wants link); a second run changes nothing; an upgrade keeps
 * the config and the buffer; --uninstall keeps them and --purge removes them.
 *
 * The installer works as root (chown, useradd --prefix), as CI and the test machine do. It runs
 * from a copy of this checkout taken at the start (so edits made meanwhile cannot change the
 * package between two runs), whose node_modules is a link to this checkout's: the first run
 * copies them and prunes the dev dependencies (no download); later runs reuse the installed ones,
 * because the lockfile and the Node ABI are unchanged.
 */

const run = promisify(execFile);
const NAME = 'store-gateway';
const PKG = `opt/${NAME}`;
const UNIT = `etc/systemd/system/${NAME}.service`;
const WANTS = `etc/systemd/system/multi-user.target.wants/${NAME}.service`;
const DROPIN = `etc/systemd/system/${NAME}.service.d/ble.conf`;
const RULES = `etc/udev/rules.d/99-${NAME}.rules`;
const MODULES = `etc/modules-load.d/${NAME}.conf`;
const CONF = `etc/${NAME}/config.yaml`;
const STATE = `var/lib/${NAME}`;

/** Runs an installer script; the output of both streams, or the failure with them. */
async function install(script: string, args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await run('bash', [script, ...args], {
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      maxBuffer: 16 * 1024 * 1024,
    });
    return `${stdout}${stderr}`;
  } catch (err) {
    const e = err as Error & { stdout?: string; stderr?: string };
    throw new Error(`${script} ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

/** Top-level entries of the checkout a package never contains (install.sh leaves them out too). */
const NOT_PACKAGED = new Set(['.git', 'node_modules', 'tests', '.demo', 'coverage', 'test-artifacts', '.ci']);

/** A copy of the checkout at `dest` as install.sh sees one; node_modules links to the real one. */
function checkoutCopy(dest: string): void {
  cpSync(PACKAGE_ROOT, dest, {
    recursive: true,
    filter: (src) => !NOT_PACKAGED.has(relative(PACKAGE_ROOT, src).split(sep)[0] as string),
  });
  symlinkSync(rootPath('node_modules'), join(dest, 'node_modules'));
}

/** A minimal Debian root: the account databases useradd --prefix edits, nothing else. */
function minimalRoot(root: string): void {
  mkdirSync(join(root, 'etc'), { recursive: true });
  const files: [string, string, number][] = [
    ['passwd', 'root:x:0:0:root:/root:/bin/bash\n', 0o644],
    ['group', 'root:x:0:\ndialout:x:20:\n', 0o644],
    ['shadow', 'root:*:19000:0:99999:7:::\n', 0o640],
    ['gshadow', 'root:*::\ndialout:*::\n', 0o640],
  ];
  for (const [name, text, mode] of files) {
    writeFileSync(join(root, 'etc', name), text);
    chmodSync(join(root, 'etc', name), mode);
  }
}

/** One line per entry under `root`: path, type, mode, owner, and content hash or link target. */
function snapshot(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const rel = relative(root, path);
      const st = lstatSync(path);
      const head = `${rel} ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}`;
      if (st.isSymbolicLink()) out.push(`${head} -> ${readlinkSync(path)}`);
      else if (st.isDirectory()) {
        out.push(`${head} dir`);
        walk(path);
      } else if (rel.startsWith(`${PKG}/node_modules/`)) out.push(`${head} ${st.size}`);
      else out.push(`${head} ${createHash('sha256').update(readFileSync(path)).digest('hex')}`);
    }
  };
  walk(root);
  return out;
}

/** The account line `name` in the root's etc/`db`, split at ':' (undefined when there is none). */
function entry(root: string, db: 'passwd' | 'group' | 'shadow' | 'gshadow', name: string) {
  return readFileSync(join(root, 'etc', db), 'utf8')
    .split('\n')
    .map((l) => l.split(':'))
    .find((f) => f[0] === name);
}

function mode(root: string, rel: string): { mode: string; uid: number; gid: number } {
  const st = lstatSync(join(root, rel));
  return { mode: (st.mode & 0o7777).toString(8), uid: st.uid, gid: st.gid };
}

const read = (root: string, rel: string) => readFileSync(join(root, rel), 'utf8');

// One root goes through install, reinstall, upgrade, uninstall and purge, in order.
describe('systemd/install.sh --root (no systemd running)', { timeout: 300_000 }, () => {
  let tmp: ReturnType<typeof tmpDir>;
  let root: string;
  let uid: number;
  let gid: number;
  let firstOutput: string;
  let afterFirst: string[];
  let src: string;
  let script: string;
  /** A file of the checkout copy the installer runs from. */
  const srcFile = (rel: string) => readFileSync(join(src, rel), 'utf8');

  beforeAll(async () => {
    expect(process.getuid?.(), 'the installer test runs as root (CI does)').toBe(0);
    expect(existsSync(rootPath('dist', 'src', 'cli', 'main.js')), 'dist/ is built').toBe(true);
    tmp = tmpDir('sg-installer-');
    src = join(tmp.path, 'checkout');
    checkoutCopy(src);
    script = join(src, 'systemd', 'install.sh');
    root = join(tmp.path, 'root');
    minimalRoot(root);
    firstOutput = await install(script, ['--root', root, '--no-build']);
    afterFirst = snapshot(root);
    uid = Number(entry(root, 'passwd', NAME)?.[2]);
    gid = Number(entry(root, 'group', NAME)?.[2]);
  }, 300_000);
  afterAll(() => {
    tmp?.cleanup();
  });

  it('creates the system user and group, with no login and the state directory as home', () => {
    const user = entry(root, 'passwd', NAME);
    const group = entry(root, 'group', NAME);
    expect(user).toBeDefined();
    expect(group).toBeDefined();
    expect(Number(user?.[2])).toBe(uid);
    expect(Number(group?.[2])).toBe(gid);
    expect(uid).toBeGreaterThan(0);
    expect(uid).toBeLessThan(1000); // a system account
    expect(Number(user?.[3])).toBe(gid);
    expect(user?.[5]).toBe(`/var/lib/${NAME}`);
    expect(user?.[6]).toBe('/usr/sbin/nologin');
    expect(entry(root, 'shadow', NAME)?.[1]).toMatch(/^[!*]/); // no password
    expect(entry(root, 'gshadow', NAME)).toBeDefined();
    expect(firstOutput).toContain(`created user ${NAME}`);
  });

  it('creates the directories with their modes and owners, and the config from config/default.yaml', () => {
    expect(mode(root, `etc/${NAME}`)).toEqual({ mode: '770', uid: 0, gid });
    expect(mode(root, CONF)).toEqual({ mode: '640', uid: 0, gid });
    expect(read(root, CONF)).toBe(srcFile('config/default.yaml'));
    expect(mode(root, STATE)).toEqual({ mode: '750', uid, gid });
    expect(mode(root, 'etc/credstore')).toEqual({ mode: '700', uid: 0, gid: 0 });
    // A placeholder config is never started; the output says what to do instead.
    expect(firstOutput).toContain('not starting with the placeholder config');
  });

  it('installs the package root-owned and read-only for the service, with production dependencies', async () => {
    expect(mode(root, PKG)).toEqual({ mode: '755', uid: 0, gid: 0 });
    expect(mode(root, `${PKG}/dist/src/cli/main.js`)).toEqual({ mode: '644', uid: 0, gid: 0 });
    expect(existsSync(join(root, PKG, 'node_modules', 'better-sqlite3'))).toBe(true);
    expect(existsSync(join(root, PKG, 'node_modules', 'unix-dgram'))).toBe(true);
    expect(existsSync(join(root, PKG, 'node_modules', 'vitest'))).toBe(false); // a dev dependency
    expect(existsSync(join(root, PKG, 'tests'))).toBe(false);
    expect(existsSync(join(root, PKG, '.git'))).toBe(false);
    // The installed CLI runs with those dependencies alone.
    const { stdout } = await run(process.execPath, [
      join(root, PKG, 'bin', 'store-gateway.js'),
      'config',
      'check',
      join(root, CONF),
    ]);
    expect(stdout).toMatch(/: ok \(store 0000, gateway gw-1, 0 devices\)/);
  });

  it('installs the unit, the udev rules and the kernel modules list, and enables the unit offline', () => {
    expect(read(root, UNIT)).toBe(srcFile(`systemd/${NAME}.service`));
    expect(mode(root, UNIT)).toEqual({ mode: '644', uid: 0, gid: 0 });
    expect(read(root, RULES)).toBe(srcFile(`systemd/99-${NAME}.rules`));
    expect(mode(root, RULES)).toEqual({ mode: '644', uid: 0, gid: 0 });
    expect(read(root, MODULES).split('\n')).toEqual(expect.arrayContaining(['usbserial', 'cdc_acm']));
    // `systemctl enable` as systemd would do it at boot: WantedBy=multi-user.target.
    expect(readlinkSync(join(root, WANTS))).toBe(`/etc/systemd/system/${NAME}.service`);
    expect(existsSync(join(root, DROPIN))).toBe(false); // BLE only with --ble
    expect(firstOutput).toContain('systemd is not running there');
    expect(firstOutput).toContain('systemctl daemon-reload');
  });

  it('changes nothing when run again', async () => {
    const output = await install(script, ['--root', root, '--no-build']);
    expect(snapshot(root)).toEqual(afterFirst);
    expect(output).toContain(`keeping /`);
    expect(output).toContain('dependencies unchanged: keeping the installed node_modules');
    expect(output).not.toContain('created user');
    expect(output).not.toContain('created group');
    expect(output).toContain('not starting with the placeholder config'); // still unedited
  });

  it('upgrades from a newer release: keeps an edited config and the buffer, replaces the package', async () => {
    // Store IT has set the store id; the gateway has a buffer and its seq file.
    const edited = read(root, CONF).replace('id: "0000"', 'id: "0421"');
    expect(edited).not.toBe(read(root, CONF));
    writeFileSync(join(root, CONF), edited);
    const buffer = Buffer.from('SQLite format 3\0 (the buffer as the gateway left it)');
    writeFileSync(join(root, STATE, 'buffer.db'), buffer);
    writeFileSync(join(root, STATE, 'buffer.db.seq'), '4096\n');
    writeFileSync(join(root, 'etc/credstore', `${NAME}.mqtt-password`), 'secret\n');
    writeFileSync(join(root, 'etc/credstore', 'other-service.key'), 'not ours\n');

    // The release: an unpacked package with dist/ and without node_modules, one version newer.
    const release = join(tmp.path, 'release');
    cpSync(join(root, PKG), release, {
      recursive: true,
      filter: (src) => !src.startsWith(join(root, PKG, 'node_modules')),
    });
    const pkgJson = JSON.parse(read(release, 'package.json')) as { version: string };
    const version = `${pkgJson.version}-upgrade.1`;
    writeFileSync(join(release, 'package.json'), JSON.stringify({ ...pkgJson, version }, null, 2));
    const unitText = `${read(release, `systemd/${NAME}.service`)}# release ${version}\n`;
    writeFileSync(join(release, `systemd/${NAME}.service`), unitText);

    const output = await install(join(release, 'systemd', 'install.sh'), [
      '--root',
      root,
      '--no-build',
      '--ble',
    ]);
    expect(output).toContain(`(${version})`);
    expect(output).toContain('dependencies unchanged: keeping the installed node_modules');
    expect(JSON.parse(read(root, `${PKG}/package.json`)).version).toBe(version);
    expect(read(root, UNIT)).toBe(unitText);
    expect(read(root, DROPIN)).toBe(srcFile(`systemd/${NAME}.service.d/ble.conf`));
    expect(read(root, CONF)).toBe(edited);
    expect(mode(root, CONF)).toEqual({ mode: '640', uid: 0, gid });
    expect(readFileSync(join(root, STATE, 'buffer.db'))).toEqual(buffer);
    expect(read(root, `${STATE}/buffer.db.seq`)).toBe('4096\n');
    expect(mode(root, `${STATE}/buffer.db`).uid).toBe(uid);
    expect(readlinkSync(join(root, WANTS))).toBe(`/etc/systemd/system/${NAME}.service`);
    // An edited config is not a placeholder: on the real system it is (re)started.
    expect(output).toContain(`systemctl restart ${NAME}`);
    expect(entry(root, 'passwd', NAME)?.[2]).toBe(String(uid));
  });

  it('--uninstall removes the service, rules, package and account, and keeps config and buffer', async () => {
    const config = read(root, CONF);
    const output = await install(script, ['--root', root, '--uninstall']);
    for (const rel of [UNIT, WANTS, DROPIN, RULES, MODULES, PKG]) {
      expect(existsSync(join(root, rel)), `${rel} removed`).toBe(false);
    }
    expect(entry(root, 'passwd', NAME)).toBeUndefined();
    expect(entry(root, 'group', NAME)).toBeUndefined();
    expect(entry(root, 'shadow', NAME)).toBeUndefined();
    expect(entry(root, 'gshadow', NAME)).toBeUndefined();
    expect(entry(root, 'group', 'dialout')).toBeDefined();
    expect(read(root, CONF)).toBe(config);
    expect(existsSync(join(root, STATE, 'buffer.db'))).toBe(true);
    expect(existsSync(join(root, STATE, 'buffer.db.seq'))).toBe(true);
    expect(existsSync(join(root, 'etc/credstore', `${NAME}.mqtt-password`))).toBe(true);
    expect(output).toContain('--uninstall --purge deletes them');
  });

  it('--uninstall --purge also deletes the config, the buffer and its own credentials', async () => {
    await install(script, ['--root', root, '--uninstall', '--purge']);
    expect(existsSync(join(root, `etc/${NAME}`))).toBe(false);
    expect(existsSync(join(root, STATE))).toBe(false);
    expect(existsSync(join(root, 'etc/credstore', `${NAME}.mqtt-password`))).toBe(false);
    expect(read(root, 'etc/credstore/other-service.key')).toBe('not ours\n');
    expect(existsSync(join(root, WANTS))).toBe(false);
    expect(existsSync(join(root, UNIT))).toBe(false);
    rmSync(join(tmp.path, 'release'), { recursive: true, force: true });
  });
});
