import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.js';
import {
  composeConfigText,
  configVersionOf,
  replaceConfigFile,
  writeFileAtomic,
} from '../../src/downlink/config-file.js';
import {
  type CommandableDriver,
  isCommandable,
  runDeviceCommand,
} from '../../src/downlink/device-commands.js';
import { deadlineOf, parseRequest, replyRoute } from '../../src/downlink/protocol.js';
import { type Parts, Supervisor } from '../../src/downlink/supervisor.js';
import { GatewayError, isGatewayError } from '../../src/errors.js';
import type { Gateway } from '../../src/gateway.js';
import { silentLogger } from '../../src/logger.js';
import { tmpDir } from '../helpers/tmp.js';

const META = {
  version: 'v7',
  commandId: 'cmd-1',
  time: '2026-11-24T08:00:00.000Z',
  previousName: 'config.yaml.prev',
};

describe('config file written by apply-config', () => {
  let dir: ReturnType<typeof tmpDir>;
  beforeEach(() => {
    dir = tmpDir();
  });
  afterEach(() => dir.cleanup());

  it('puts the version in a header that YAML ignores and the validator accepts', () => {
    const text = composeConfigText({ store: { id: '0421' }, gateway: { id: 'gw-1' } }, META);
    expect(text.split('\n').slice(0, 2)).toEqual([
      '# store-gateway config version: v7',
      '# written by the apply-config command cmd-1 at 2026-11-24T08:00:00.000Z; the previous file is config.yaml.prev',
    ]);
    expect(configVersionOf(text)).toBe('v7');
    const parsed = parseConfigText(text);
    expect(parsed.ok && parsed.config.gateway.id).toBe('gw-1');
  });

  it('replaces the header of a document that already has one, and keeps YAML text as given', () => {
    const first = composeConfigText('store: { id: "0421" }  # lane comment\ngateway: { id: gw-1 }\n', META);
    const again = composeConfigText(first, { ...META, version: 'v8', commandId: 'cmd-2' });
    expect(configVersionOf(again)).toBe('v8');
    expect(again.match(/config version/g)).toHaveLength(1);
    expect(again).toContain('# lane comment');
    expect(configVersionOf('store:\n  id: x\n')).toBeNull();
    expect(configVersionOf('# a hand-written comment\nstore: {id: x}\n')).toBeNull();
  });

  it('writes atomically, keeps the previous file as .prev with the same mode, and restores it', () => {
    const path = join(dir.path, 'config.yaml');
    writeFileSync(path, 'old: 1\n', { mode: 0o600 });
    const replaced = replaceConfigFile(path, 'new: 2\n');
    expect(readFileSync(path, 'utf8')).toBe('new: 2\n');
    expect(readFileSync(`${path}.prev`, 'utf8')).toBe('old: 1\n');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(`${path}.prev`).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir.path).sort()).toEqual(['config.yaml', 'config.yaml.prev']);
    replaced.restore();
    expect(readFileSync(path, 'utf8')).toBe('old: 1\n');
  });

  it('leaves the target untouched and no temp file when the write fails', () => {
    const path = join(dir.path, 'missing-dir', 'config.yaml');
    expect(() => writeFileAtomic(path, 'x')).toThrow();
    expect(existsSync(path)).toBe(false);
    expect(readdirSync(dir.path)).toEqual([]);
  });
});

describe('command requests', () => {
  it('accepts extra fields and checks id, expiresAt, args and replyTo', () => {
    expect(parseRequest('{"id":"a","trace":"t-1"}')).toMatchObject({ ok: true, request: { id: 'a' } });
    const bad = parseRequest(JSON.stringify({ id: '', expiresAt: 'soon', args: [1], replyTo: 'a/#' }));
    expect(bad.ok).toBe(false);
    if (!bad.ok) {
      expect([...new Set(bad.issues.map((i) => i.path))].sort()).toEqual([
        '/args',
        '/expiresAt',
        '/id',
        '/replyTo',
      ]);
    }
  });

  it('takes the earlier of expiresAt and the MQTT 5 expiry left at delivery', () => {
    const at = Date.parse('2026-11-24T08:00:00.000Z');
    const req = { id: 'x', expiresAt: '2026-11-24T08:00:05.000Z' };
    expect(deadlineOf(req, 2, at)).toBe(at + 2000);
    expect(deadlineOf(req, 60, at)).toBe(at + 5000);
    expect(deadlineOf({ id: 'x' }, undefined, at)).toBeNull();
  });

  it('routes the reply: response topic, then replyTo, then the gateway reply topic', () => {
    expect(replyRoute('b', 'ping', { responseTopic: 'r' }, 'x').topic).toBe('r');
    expect(replyRoute('b', 'ping', {}, 'x')).toEqual({ topic: 'x', via: 'reply-to' });
    expect(replyRoute('b', 'ping', undefined, undefined)).toEqual({
      topic: 'b/replies/ping',
      via: 'reply-topic',
    });
  });
});

/** A driver double that offers host commands, as a serial SSI scanner driver will. */
class BeepingDriver implements CommandableDriver {
  beeps = 0;
  commands() {
    return ['beep', 'enable', 'disable', 'hang'];
  }
  async command(name: string, args: unknown) {
    if (name === 'hang') return new Promise(() => {});
    if (name === 'enable') throw new Error('NAK from the scanner');
    if (name === 'disable') throw new GatewayError('GW_ERR_COMMAND_INVALID', 'bad args');
    this.beeps++;
    return { beeped: (args as { tone?: number } | undefined)?.tone ?? 0 };
  }
}

describe('device commands', () => {
  const beeper = new BeepingDriver();
  const plain = { kind: 'serial-scanner', id: 'lane-2' };
  const driverOf = (id: string) => ({ 'lane-1': beeper, 'lane-2': plain })[id];
  const codeOf = async (p: Promise<unknown>) => {
    try {
      await p;
      return 'resolved';
    } catch (err) {
      return isGatewayError(err) ? err.code : String(err);
    }
  };

  it('detects the optional interface', () => {
    expect(isCommandable(beeper)).toBe(true);
    expect(isCommandable(plain)).toBe(false);
    expect(isCommandable(undefined)).toBe(false);
  });

  it('runs an offered command and returns its result', async () => {
    const result = await runDeviceCommand(
      driverOf,
      { device: 'lane-1', command: 'beep', args: { tone: 3 } },
      1000,
    );
    expect(result).toEqual({ beeped: 3 });
    expect(beeper.beeps).toBe(1);
  });

  it('maps every failure to a coded error', async () => {
    expect(await codeOf(runDeviceCommand(driverOf, { device: 'nope', command: 'beep' }, 1000))).toBe(
      'GW_ERR_DEVICE_UNKNOWN',
    );
    expect(await codeOf(runDeviceCommand(driverOf, { device: 'lane-2', command: 'beep' }, 1000))).toBe(
      'GW_ERR_DEVICE_UNSUPPORTED',
    );
    expect(await codeOf(runDeviceCommand(driverOf, { device: 'lane-1', command: 'reboot' }, 1000))).toBe(
      'GW_ERR_DEVICE_UNSUPPORTED',
    );
    expect(await codeOf(runDeviceCommand(driverOf, { device: 'lane-1', command: 'enable' }, 1000))).toBe(
      'GW_ERR_DEVICE_COMMAND_FAILED',
    );
    expect(await codeOf(runDeviceCommand(driverOf, { device: 'lane-1', command: 'disable' }, 1000))).toBe(
      'GW_ERR_COMMAND_INVALID',
    );
    expect(await codeOf(runDeviceCommand(driverOf, { device: 'lane-1', command: 'hang' }, 50))).toBe(
      'GW_ERR_DEVICE_COMMAND_FAILED',
    );
  });
});

describe('supervisor', () => {
  const config = (level: string) => ({ log: { level } }) as never;
  const parts = (name: string, events: string[]): Parts => ({
    gateway: { name } as unknown as Gateway,
    stop: async () => {
      events.push(`stop ${name}`);
    },
  });

  it('rolls back to the previous config when the new one fails its check, undoing the change first', async () => {
    const events: string[] = [];
    let n = 0;
    const sup = new Supervisor({
      log: silentLogger(),
      start: async (c: { log: { level: string } }) => {
        events.push(`start ${c.log.level}`);
        return parts(`g${++n}`, events);
      },
    });
    await sup.start(config('info'));
    const outcome = await sup.restart(config('debug'), {
      reason: 'test',
      verify: async () => {
        throw new Error('no broker');
      },
      beforeRollback: () => events.push('undo'),
    });
    expect(outcome).toEqual({ ok: false, error: 'no broker', rolledBack: true });
    expect(events).toEqual(['start info', 'stop g1', 'start debug', 'stop g2', 'undo', 'start info']);
    expect((sup.gateway as unknown as { name: string }).name).toBe('g3');
  });

  it('reports a fatal failure when the previous config cannot start again either', async () => {
    let fatal: unknown;
    let starts = 0;
    const sup = new Supervisor({
      log: silentLogger(),
      onFatal: (err) => {
        fatal = err;
      },
      start: async () => {
        if (++starts > 1) throw new Error(`start ${starts} failed`);
        return parts('g1', []);
      },
    });
    await sup.start(config('info'));
    const outcome = await sup.restart(config('info'), { reason: 'test' });
    expect(outcome).toEqual({ ok: false, error: 'start 2 failed', rolledBack: false });
    expect((fatal as Error).message).toBe('start 3 failed');
    expect(await sup.restart(config('info'), { reason: 'again' })).toMatchObject({
      ok: false,
      rolledBack: false,
    });
  });
});
