import { join } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CentralCommandClient } from '../../simulators/central.js';
import { type Running, startGateway } from '../../src/cli/run.js';
import { loadConfigFile } from '../../src/config/load.js';
import { type Logger, REDACT_PATHS } from '../../src/logger.js';
import { VERSION } from '../../src/paths.js';
import { configPath, testConfig, writeConfig } from '../helpers/config.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

type Line = Record<string, unknown> & { msg: string };

/** The process logger as `run` builds it, writing JSON lines to memory so tests can read them. */
function capturingLogger(level = 'info'): { log: Logger; lines: Line[] } {
  const lines: Line[] = [];
  const log = pino(
    { level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } },
    { write: (s: string) => lines.push(JSON.parse(s) as Line) },
  );
  return { log, lines };
}

interface Gw {
  running: Running;
  lines: Line[];
  dir: ReturnType<typeof tmpDir>;
  file: string;
}

async function startFromFile(
  url: string,
  gatewayId: string,
  extra: Record<string, unknown> = {},
): Promise<Gw> {
  const dir = tmpDir();
  const file = writeConfig(
    configPath(dir.path),
    testConfig({
      dir: dir.path,
      mqttUrl: url,
      gateway: gatewayId,
      devices: [{ id: 'lane-1', kind: 'serial-scanner', path: join(dir.path, 'no-such-tty') }],
      extra,
    }),
  );
  const loaded = loadConfigFile(file);
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.issues));
  const { log, lines } = capturingLogger();
  const running = await startGateway(loaded.config, { log, configPath: file });
  await waitFor(() => running.gateway.uplink.isConnected, 'gateway connected');
  return { running, lines, dir, file };
}

const commandsStatus = (gw: Gw) => gw.running.gateway.status().modules.commands as Record<string, number>;

describe('downlink commands (gateway on MQTT 5, Mosquitto)', () => {
  let broker: Mosquitto;
  let gw: Gw;
  let central5: CentralCommandClient;
  let central3: CentralCommandClient;
  let watcher: MqttClient;
  const states: Record<string, unknown>[] = [];
  const base = 'stores/0421/gateways/gw-cmd';

  beforeAll(async () => {
    broker = await Mosquitto.start();
    gw = await startFromFile(broker.url, 'gw-cmd');
    central5 = await CentralCommandClient.connect({ url: broker.url, store: '0421', gateway: 'gw-cmd' });
    central3 = await CentralCommandClient.connect({
      url: broker.url,
      store: '0421',
      gateway: 'gw-cmd',
      protocolVersion: 4,
    });
    watcher = await connectAsync(broker.url, { protocolVersion: 5, reconnectPeriod: 0 });
    watcher.on('message', (_t, payload) =>
      states.push(JSON.parse(payload.toString()) as Record<string, unknown>),
    );
    await watcher.subscribeAsync(`${base}/state`, { qos: 1 });
    await waitFor(() => states.some((s) => s.state === 'online'), 'retained birth message');
  });

  afterAll(async () => {
    await central5?.close();
    await central3?.close();
    await watcher?.endAsync();
    await gw?.running.stop();
    gw?.dir.cleanup();
    await broker?.dispose();
  });

  it('MQTT 5: replies on the response topic with the correlation data of the request', async () => {
    const received = await central5.sendAndReceive('ping', { id: 'ping-5' });
    expect(received.topic).toBe(central5.inbox);
    expect(received.correlationData).toBeInstanceOf(Buffer);
    expect(received.correlationData?.length).toBe(16);
    expect(received.contentType).toBe('application/json');
    expect(received.reply).toMatchObject({
      id: 'ping-5',
      command: 'ping',
      ok: true,
      result: { bootId: gw.running.gateway.bootId, version: VERSION },
    });
  });

  it('MQTT 5: two commands in flight at once each get their own reply, matched by correlation data', async () => {
    const [a, b] = await Promise.all([
      central5.sendAndReceive('ping', { id: 'par-a' }),
      central5.sendAndReceive('get-status', { id: 'par-b' }),
    ]);
    expect([a.reply.id, b.reply.id]).toEqual(['par-a', 'par-b']);
    expect(a.correlationData?.equals(b.correlationData as Buffer)).toBe(false);
  });

  it('MQTT 3.1.1: replies on the documented reply topic, matched by command id', async () => {
    const received = await central3.sendAndReceive('ping', { id: 'ping-3' });
    expect(received.topic).toBe(`${base}/replies/ping`);
    expect(received.correlationData).toBeUndefined();
    expect(received.reply).toMatchObject({ id: 'ping-3', ok: true });
  });

  it('MQTT 3.1.1: a replyTo field sends the reply to that topic instead', async () => {
    const inbox = 'central/pos-team/inbox';
    await central3.listen(inbox);
    const received = await central3.sendAndReceive('ping', { id: 'ping-3r', replyTo: inbox });
    expect(received.topic).toBe(inbox);
    expect(received.reply.id).toBe('ping-3r');
  });

  it('MQTT 5 without a response topic: the reply topic, as for 3.1.1', async () => {
    const received = await central5.sendAndReceive('ping', { id: 'ping-5t', route: 'reply-topic' });
    expect(received.topic).toBe(`${base}/replies/ping`);
  });

  it('replays a command id: the same reply, and the command does not run again', async () => {
    const first = await central5.sendAndReceive('set-log-level', { id: 'lvl-1', args: { level: 'debug' } });
    expect(first.reply).toMatchObject({ ok: true, result: { level: 'debug', previous: 'info' } });
    await central5.send('set-log-level', { id: 'lvl-2', args: { level: 'warn' } });
    const before = commandsStatus(gw);
    // Same id again, even over the other protocol and with other args: stored reply, no effect.
    const again = await central3.sendAndReceive('set-log-level', { id: 'lvl-1', args: { level: 'trace' } });
    expect(again.raw).toBe(first.raw);
    expect(gw.running.gateway.log.level).toBe('warn');
    const after = commandsStatus(gw);
    expect(after.executed).toBe(before.executed);
    expect(after.replayed).toBe((before.replayed ?? 0) + 1);
    const metrics = await gw.running.gateway.metrics.registry.getSingleMetricAsString('sg_commands_total');
    expect(metrics).toContain('sg_commands_total{command="set-log-level",outcome="replayed"} 1');
    await central5.send('set-log-level', { args: { level: 'info' } });
  });

  it('replays rebirth without a second birth message', async () => {
    const onlineBefore = states.filter((s) => s.state === 'online').length;
    const first = await central5.sendAndReceive('rebirth', { id: 'rb-1' });
    expect(first.reply.ok).toBe(true);
    await waitFor(
      () => states.filter((s) => s.state === 'online').length === onlineBefore + 1,
      'a second birth',
    );
    const birth = states.at(-1);
    expect(birth).toMatchObject({ state: 'online', bootid: gw.running.gateway.bootId });
    expect(birth?.birth).toBe((first.reply.result as { birth: number }).birth);
    const before = commandsStatus(gw).executed;
    const again = await central5.sendAndReceive('rebirth', { id: 'rb-1' });
    expect(again.raw).toBe(first.raw);
    expect(commandsStatus(gw).executed).toBe(before);
  });

  it('refuses a command whose expiresAt has passed, without running it', async () => {
    const level = gw.running.gateway.log.level;
    const reply = await central5.send('set-log-level', {
      id: 'exp-1',
      args: { level: 'trace' },
      expiresAt: new Date(Date.now() - 1000).toISOString(),
    });
    expect(reply).toMatchObject({
      id: 'exp-1',
      ok: false,
      error: { code: 'GW_ERR_COMMAND_EXPIRED', retryable: false },
    });
    expect(gw.running.gateway.log.level).toBe(level);
  });

  it('answers an unknown command with GW_ERR_COMMAND_UNKNOWN and the known names', async () => {
    const reply = await central3.send('self-destruct', { id: 'unk-1' });
    expect(reply).toMatchObject({ id: 'unk-1', command: 'self-destruct', ok: false });
    expect(reply.error?.code).toBe('GW_ERR_COMMAND_UNKNOWN');
    expect(reply.error?.details).toEqual({
      commands: expect.arrayContaining(['ping', 'get-status', 'apply-config', 'device-command']),
    });
  });

  it('answers a malformed request with GW_ERR_COMMAND_INVALID and the failing paths', async () => {
    const from = central3.replies.length;
    await central3.publish('ping', '{"id": 42}');
    const got = await central3.waitFrom(
      from,
      (r) => r.topic === `${base}/replies/ping` && r.reply.id === null,
      10_000,
    );
    expect(got.reply.error?.code).toBe('GW_ERR_COMMAND_INVALID');
    expect(got.reply.error?.details).toEqual({ issues: [{ path: '/id', message: 'must be string' }] });
    const bad = await central5.send('set-log-level', { args: { level: 'loud' } });
    expect(bad.error?.code).toBe('GW_ERR_COMMAND_INVALID');
    expect(bad.error?.details).toMatchObject({ issues: [{ path: '/args/level' }] });
  });

  it('get-status: the gateway status, the config file and the log level', async () => {
    const reply = await central5.send('get-status');
    expect(reply.ok).toBe(true);
    expect(reply.result).toMatchObject({
      store: '0421',
      gateway: 'gw-cmd',
      state: 'running',
      bootId: gw.running.gateway.bootId,
      uplink: { connected: true, protocolVersion: 5 },
      config: { path: gw.file, version: null },
      logLevel: gw.running.gateway.log.level,
      modules: { commands: { queued: 0 } },
    });
    expect((reply.result as { devices: { id: string }[] }).devices.map((d) => d.id)).toEqual(['lane-1']);
  });

  it('list-devices and device-command: unknown device, and a driver without host commands', async () => {
    const list = await central5.send('list-devices');
    expect(list.result).toEqual({
      devices: [
        expect.objectContaining({ id: 'lane-1', kind: 'serial-scanner', state: 'unavailable', commands: [] }),
      ],
    });
    const unknown = await central5.send('device-command', { args: { device: 'lane-9', command: 'beep' } });
    expect(unknown.error?.code).toBe('GW_ERR_DEVICE_UNKNOWN');
    const unsupported = await central5.send('device-command', {
      args: { device: 'lane-1', command: 'beep' },
    });
    expect(unsupported.error).toMatchObject({
      code: 'GW_ERR_DEVICE_UNSUPPORTED',
      details: { supported: [] },
    });
  });

  it('set-log-level changes the level of the whole process, child loggers included', async () => {
    const child = gw.running.gateway.log.child({ component: 'probe' });
    expect(child.isLevelEnabled('debug')).toBe(false);
    const reply = await central3.send('set-log-level', { args: { level: 'debug' } });
    expect(reply.result).toEqual({ level: 'debug', previous: 'info' });
    expect(child.isLevelEnabled('debug')).toBe(true);
    expect((await central3.send('get-status')).result).toMatchObject({ logLevel: 'debug' });
    await central3.send('set-log-level', { args: { level: 'info' } });
    expect(child.isLevelEnabled('debug')).toBe(false);
  });

  it('logs every command and its outcome, never its args', async () => {
    await central5.send('device-command', {
      id: 'log-1',
      args: { device: 'secret-device-xyz', command: 'beep' },
    });
    const mine = gw.lines.filter((l) => l.id === 'log-1');
    expect(mine.map((l) => l.msg)).toEqual(['command received', 'command failed']);
    expect(mine[1]).toMatchObject({ command: 'device-command', ok: false, code: 'GW_ERR_DEVICE_UNKNOWN' });
    const done = gw.lines.find((l) => l.id === 'ping-5' && l.msg === 'command done');
    expect(done).toMatchObject({ command: 'ping', ok: true, via: 'response-topic' });
    expect(JSON.stringify(gw.lines.filter((l) => !String(l.msg).startsWith('command failed')))).not.toContain(
      'secret-device-xyz',
    );
  });
});

describe('MQTT 5 message expiry, as the broker sees it', () => {
  let broker: Mosquitto;
  let gw: Gw;
  let central: CentralCommandClient;

  beforeAll(async () => {
    broker = await Mosquitto.start();
    gw = await startFromFile(broker.url, 'gw-exp');
    central = await CentralCommandClient.connect({ url: broker.url, store: '0421', gateway: 'gw-exp' });
  });

  afterAll(async () => {
    await central?.close();
    await gw?.running.stop();
    gw?.dir.cleanup();
    await broker?.dispose();
  });

  it('a command that expires while the gateway is offline is never run; a later one is', async () => {
    // The gateway's session (and its commands subscription) stays on the broker while it is down.
    await gw.running.stop();
    await central.publish('set-log-level', JSON.stringify({ id: 'gone', args: { level: 'trace' } }), {
      qos: 1,
      properties: { messageExpiryInterval: 1, responseTopic: central.inbox },
    });
    const later = central.sendAndReceive('set-log-level', { id: 'kept', args: { level: 'debug' } });
    await new Promise((r) => setTimeout(r, 2500));
    const loaded = loadConfigFile(gw.file);
    if (!loaded.ok) throw new Error('config');
    const { log, lines } = capturingLogger();
    gw = { ...gw, running: await startGateway(loaded.config, { log, configPath: gw.file }), lines };
    const reply = await later;
    expect(reply.reply).toMatchObject({ id: 'kept', ok: true, result: { level: 'debug', previous: 'info' } });
    expect(central.replies.some((r) => r.reply.id === 'gone')).toBe(false);
    expect(lines.some((l) => l.id === 'gone')).toBe(false);
    expect(gw.running.gateway.log.level).toBe('debug');
  });
});
