import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CentralCommandClient, type CommandReply } from '../../simulators/central.js';
import { type Running, startGateway } from '../../src/cli/run.js';
import { loadConfigFile, parseConfigText } from '../../src/config/load.js';
import { configVersionOf } from '../../src/downlink/config-file.js';
import { type Logger, REDACT_PATHS } from '../../src/logger.js';
import { configPath, testConfig, writeConfig } from '../helpers/config.js';
import { GatewayProcess } from '../helpers/gateway-process.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { freePort } from '../helpers/ports.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

type Line = Record<string, unknown> & { msg: string };
type Doc = Record<string, unknown> & { devices: Record<string, unknown>[] };

function capturingLogger(): { log: Logger; lines: Line[] } {
  const lines: Line[] = [];
  const log = pino(
    { level: 'info', redact: { paths: REDACT_PATHS, censor: '[redacted]' } },
    { write: (s: string) => lines.push(JSON.parse(s) as Line) },
  );
  return { log, lines };
}

const issuePaths = (r: CommandReply) =>
  ((r.error?.details as { issues?: { path: string }[] } | undefined)?.issues ?? []).map((i) => i.path).sort();

describe('apply-config and reload-config (gateway on MQTT 3.1.1)', () => {
  let broker: Mosquitto;
  let central: CentralCommandClient;
  let dir: ReturnType<typeof tmpDir>;
  let file: string;
  let running: Running;
  let lines: Line[];
  let original: Doc;

  const devicePath = (name: string) => join(dir.path, name);
  const deviceIds = async () =>
    ((await central.send('list-devices')).result as { devices: { id: string }[] }).devices.map((d) => d.id);

  beforeAll(async () => {
    broker = await Mosquitto.start();
  });
  afterAll(async () => {
    await broker?.dispose();
  });

  beforeEach(async () => {
    dir = tmpDir();
    original = testConfig({
      dir: dir.path,
      mqttUrl: broker.url,
      protocolVersion: 4,
      gateway: 'gw-cfg',
      devices: [{ id: 'lane-1', kind: 'serial-scanner', path: join(dir.path, 'tty-1') }],
      extra: { commands: { confirmSec: 2 } },
    }) as Doc;
    file = writeConfig(configPath(dir.path), original);
    const loaded = loadConfigFile(file);
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.issues));
    const logger = capturingLogger();
    lines = logger.lines;
    running = await startGateway(loaded.config, { log: logger.log, configPath: file });
    await waitFor(() => running.gateway.uplink.isConnected, 'gateway connected');
    central = await CentralCommandClient.connect({
      url: broker.url,
      store: '0421',
      gateway: 'gw-cfg',
      protocolVersion: 4,
    });
  });

  afterEach(async () => {
    await central?.close();
    await running?.stop();
    dir?.cleanup();
  });

  it('refuses an invalid config with every error by path, and changes nothing', async () => {
    const before = readFileSync(file, 'utf8');
    const gateway = running.gateway;
    const bad = {
      ...original,
      store: { id: '9999' },
      bogus: true,
      mqtt: { ...(original.mqtt as object), protocolVersion: 3, reconnect: { minMs: 5000, maxMs: 1000 } },
      buffer: { ...(original.buffer as object), maxBytes: 'lots' },
      devices: [...original.devices, { id: 'lane-2', kind: 'serial-scanner' }, { id: 'lane-1', kind: 'nfc' }],
    };
    const reply = await central.send('apply-config', { id: 'bad-1', args: { version: 'v2', config: bad } });
    expect(reply).toMatchObject({ ok: false, error: { code: 'GW_ERR_CONFIG_INVALID', retryable: false } });
    expect(issuePaths(reply)).toEqual(
      [
        '/',
        '/buffer/maxBytes',
        '/devices/1',
        '/devices/2/id',
        '/devices/2/kind',
        '/mqtt/protocolVersion',
        '/mqtt/reconnect/minMs',
        '/store/id',
      ].sort(),
    );
    // The same validator as `store-gateway config check`: its issues are all in the reply.
    const check = parseConfigText(JSON.stringify(bad));
    expect(check.ok).toBe(false);
    if (!check.ok)
      expect(reply.error?.details).toMatchObject({ issues: expect.arrayContaining(check.issues) });
    // A YAML syntax error and a missing version are refused too.
    const yaml = await central.send('apply-config', { args: { version: 'v2', config: 'store: [\n' } });
    expect(yaml.error?.code).toBe('GW_ERR_CONFIG_INVALID');
    expect(issuePaths(yaml)).toEqual(['/']);
    const noVersion = await central.send('apply-config', { args: { config: original } });
    expect(noVersion.error?.code).toBe('GW_ERR_COMMAND_INVALID');
    expect(issuePaths(noVersion)).toEqual(['/args/version']);
    const badVersion = await central.send('apply-config', {
      args: { version: 'v2\nevil: 1', config: original },
    });
    expect(issuePaths(badVersion)).toEqual(['/args/version']);
    // Nothing changed: same gateway object, same file, no previous-version file.
    expect(running.gateway).toBe(gateway);
    expect(running.gateway.status().state).toBe('running');
    expect(readFileSync(file, 'utf8')).toBe(before);
    expect(existsSync(`${file}.prev`)).toBe(false);
    expect(await deviceIds()).toEqual(['lane-1']);
  });

  it('applies a valid config: written with its version, the previous file kept, the gateway restarted with it', async () => {
    const before = readFileSync(file, 'utf8');
    const bootId = running.gateway.bootId;
    const next = {
      ...original,
      mqtt: { ...(original.mqtt as object), username: 'user-secret-xyz' },
      devices: [...original.devices, { id: 'lane-2', kind: 'serial-scanner', path: devicePath('tty-2') }],
    };
    const reply = await central.send('apply-config', {
      id: 'apply-1',
      args: { version: 'v2', config: next },
    });
    expect(reply).toMatchObject({
      id: 'apply-1',
      ok: true,
      result: {
        version: 'v2',
        previousVersion: null,
        restarted: true,
        path: file,
        previousPath: `${file}.prev`,
      },
    });
    expect(await deviceIds()).toEqual(['lane-1', 'lane-2']);
    expect(running.gateway.bootId).not.toBe(bootId);
    expect(running.gateway.config.mqtt.username).toBe('user-secret-xyz');
    const onDisk = readFileSync(file, 'utf8');
    expect(configVersionOf(onDisk)).toBe('v2');
    expect(parse(onDisk)).toEqual(next);
    expect(readFileSync(`${file}.prev`, 'utf8')).toBe(before);
    const status = (await central.send('get-status')).result as Record<string, unknown>;
    expect(status).toMatchObject({ config: { path: file, version: 'v2' }, bootId: running.gateway.bootId });
    // The same command id again: the stored reply, and no second restart.
    const restartedBootId = running.gateway.bootId;
    const again = await central.sendAndReceive('apply-config', {
      id: 'apply-1',
      args: { version: 'v2', config: next },
    });
    expect(again.reply).toEqual(reply);
    expect(running.gateway.bootId).toBe(restartedBootId);
    // Optimistic concurrency: ifVersion must name the running version.
    const stale = await central.send('apply-config', {
      args: { version: 'v3', ifVersion: 'v1', config: next },
    });
    expect(stale.error).toMatchObject({ code: 'GW_ERR_CONFIG_CONFLICT', details: { runningVersion: 'v2' } });
    // Same content under a new version: the file changes, the gateway does not restart.
    const relabel = await central.send('apply-config', {
      args: { version: 'v3', ifVersion: 'v2', config: next },
    });
    expect(relabel.result).toMatchObject({ version: 'v3', previousVersion: 'v2', restarted: false });
    expect(running.gateway.bootId).toBe(restartedBootId);
    expect(configVersionOf(readFileSync(file, 'utf8'))).toBe('v3');
    expect((await central.send('get-status')).result).toMatchObject({ config: { version: 'v3' } });
    // The args (a whole config) never reach the log.
    expect(JSON.stringify(lines)).not.toContain('user-secret-xyz');
    expect(lines.some((l) => l.msg === 'gateway restarted with the new config')).toBe(true);
  });

  it('rolls back a config the gateway cannot start with (buffer cannot be opened), file included', async () => {
    const before = readFileSync(file, 'utf8');
    const oldBuffer = running.gateway.config.buffer.path;
    writeFileSync(join(dir.path, 'not-a-dir'), 'x');
    const next = {
      ...original,
      buffer: { ...(original.buffer as object), path: join(dir.path, 'not-a-dir', 'buffer.db') },
    };
    const reply = await central.send('apply-config', { id: 'rb-1', args: { version: 'v2', config: next } });
    expect(reply).toMatchObject({
      ok: false,
      error: { code: 'GW_ERR_CONFIG_ROLLED_BACK', details: { rolledBack: true, runningVersion: null } },
    });
    expect(reply.error?.message).toContain('not-a-dir');
    expect(readFileSync(file, 'utf8')).toBe(before);
    expect(running.gateway.config.buffer.path).toBe(oldBuffer);
    expect(running.gateway.status()).toMatchObject({ state: 'running', buffer: { refusing: false } });
    expect((await central.send('ping')).ok).toBe(true);
    expect((await central.send('get-status')).result).toMatchObject({ config: { version: null } });
    expect(lines.some((l) => l.msg === 'rolled back: the gateway runs with the previous config')).toBe(true);
  });

  it('rolls back a config that cannot reach the broker within commands.confirmSec', async () => {
    const before = readFileSync(file, 'utf8');
    const closed = await freePort();
    const next = { ...original, mqtt: { ...(original.mqtt as object), url: `mqtt://127.0.0.1:${closed}` } };
    const reply = await central.send('apply-config', { args: { version: 'v2', config: next } });
    expect(reply.error?.code).toBe('GW_ERR_CONFIG_ROLLED_BACK');
    expect(reply.error?.message).toContain('no connection to the broker within 2 s');
    expect(readFileSync(file, 'utf8')).toBe(before);
    expect(running.gateway.config.mqtt.url).toBe(broker.url);
    expect(running.gateway.uplink.isConnected).toBe(true);
  });

  it('reload-config re-reads the file: restarts when it changed, not when it did not, refuses it when invalid', async () => {
    const unchanged = await central.send('reload-config');
    expect(unchanged.result).toEqual({ restarted: false, version: null });
    writeConfig(file, {
      ...original,
      log: { level: 'debug' },
      devices: [...original.devices, { id: 'lane-3', kind: 'serial-scanner', path: devicePath('tty-3') }],
    });
    const changed = await central.send('reload-config');
    expect(changed.result).toEqual({ restarted: true, version: null });
    expect(await deviceIds()).toEqual(['lane-1', 'lane-3']);
    expect(running.gateway.log.level).toBe('debug');
    const gateway = running.gateway;
    writeFileSync(file, 'store: { id: "0421" }\ngateway: { id: gw-cfg }\nmqtt: { keepaliveSec: 1 }\n');
    const invalid = await central.send('reload-config');
    expect(invalid.error?.code).toBe('GW_ERR_CONFIG_INVALID');
    expect(issuePaths(invalid)).toEqual(['/mqtt/keepaliveSec']);
    expect(running.gateway).toBe(gateway);
  });
});

describe('apply-config on the daemon (store-gateway run --config)', () => {
  let broker: Mosquitto;
  let dir: ReturnType<typeof tmpDir>;
  let proc: GatewayProcess | undefined;
  let central: CentralCommandClient | undefined;

  beforeAll(async () => {
    broker = await Mosquitto.start();
    dir = tmpDir();
  });
  afterAll(async () => {
    await central?.close();
    await proc?.kill('SIGTERM');
    dir?.cleanup();
    await broker?.dispose();
  });

  it('restarts its parts with the new config and keeps running on it', async () => {
    const original = testConfig({
      dir: dir.path,
      mqttUrl: broker.url,
      gateway: 'gw-daemon',
      devices: [{ id: 'lane-1', kind: 'serial-scanner', path: join(dir.path, 'tty-1') }],
    }) as Doc;
    const file = writeConfig(configPath(dir.path), original);
    proc = GatewayProcess.run(file);
    await proc.ready();
    central = await CentralCommandClient.connect({ url: broker.url, store: '0421', gateway: 'gw-daemon' });
    const next = {
      ...original,
      devices: [...original.devices, { id: 'lane-2', kind: 'serial-scanner', path: join(dir.path, 'tty-2') }],
    };
    const reply = await central.send('apply-config', { args: { version: '2026-11-24.1', config: next } });
    expect(reply).toMatchObject({ ok: true, result: { version: '2026-11-24.1', restarted: true } });
    const listening = () => proc?.lines.filter((l) => l.msg === 'local API listening').length ?? 0;
    await waitFor(() => listening() === 2, 'the API listening again');
    await proc.ready();
    const status = await proc.status();
    expect((status.devices as { id: string }[]).map((d) => d.id)).toEqual(['lane-1', 'lane-2']);
    expect(configVersionOf(readFileSync(file, 'utf8'))).toBe('2026-11-24.1');
    expect(proc.alive).toBe(true);
    const stopped = await proc.kill('SIGTERM');
    expect(stopped.code).toBe(0);
  });
});
