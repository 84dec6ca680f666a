import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { FREEZE_ENV, freezeMsFromEnv } from '../../src/systemd/freeze-hook.js';
import {
  formatNotifyMessage,
  loadUnixDgram,
  openNotifier,
  parseNotifyMessage,
  parseNotifySocket,
  type UnixDgramSocket,
} from '../../src/systemd/notify.js';
import { watchdogPingMs } from '../../src/systemd/watchdog.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

type Line = { level: number; msg: string; [k: string]: unknown };

function capturingLogger() {
  const lines: Line[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => lines.push(JSON.parse(s) as Line) });
  return { log, lines };
}

describe('NOTIFY_SOCKET', () => {
  it('is a path, or with a leading @ an abstract name starting with NUL', () => {
    expect(parseNotifySocket('/run/systemd/notify')).toEqual({ kind: 'path', path: '/run/systemd/notify' });
    expect(parseNotifySocket('@/org/freedesktop/systemd1/notify')).toEqual({
      kind: 'abstract',
      name: '\0/org/freedesktop/systemd1/notify',
    });
    expect(parseNotifySocket(undefined)).toBeNull();
    expect(parseNotifySocket('')).toBeNull();
    expect(parseNotifySocket('@')).toBeNull();
    expect(parseNotifySocket('run/notify')).toBeNull();
    expect(parseNotifySocket('vsock:2:1234')).toBeNull();
  });

  it('messages are KEY=value lines, one line per value', () => {
    const text = formatNotifyMessage({ READY: 1, STATUS: 'running:\nbroker connected' });
    expect(text).toBe('READY=1\nSTATUS=running: broker connected');
    expect(parseNotifyMessage(text)).toEqual({ READY: '1', STATUS: 'running: broker connected' });
  });
});

describe('openNotifier', () => {
  const dirs: ReturnType<typeof tmpDir>[] = [];
  const sockets: UnixDgramSocket[] = [];
  afterEach(() => {
    for (const s of sockets.splice(0)) s.close();
    for (const d of dirs.splice(0)) d.cleanup();
  });

  it('is a no-op with one log line when NOTIFY_SOCKET is unset', () => {
    const { log, lines } = capturingLogger();
    const n = openNotifier({ log, env: {} });
    expect(n.enabled).toBe(false);
    expect(n.notify({ READY: 1 })).toBe(false);
    expect(lines.map((l) => l.msg)).toEqual([
      'not started by systemd (no NOTIFY_SOCKET): readiness and watchdog notifications are off',
    ]);
  });

  it('refuses an abstract socket it cannot address, saying so once', () => {
    const { log, lines } = capturingLogger();
    const env: NodeJS.ProcessEnv = { NOTIFY_SOCKET: '@sg-test' };
    const n = openNotifier({ log, env });
    expect(n.enabled).toBe(false);
    expect(env.NOTIFY_SOCKET).toBeUndefined();
    expect(lines).toHaveLength(1);
    expect(lines[0]?.msg).toMatch(/abstract socket/);
    expect(lines[0]?.level).toBe(40);
  });

  it('degrades to a no-op with an error line when the native module cannot be loaded', () => {
    const { log, lines } = capturingLogger();
    const n = openNotifier({
      log,
      env: { NOTIFY_SOCKET: '/run/systemd/notify' },
      load: () => {
        throw new Error('Cannot find module unix-dgram');
      },
    });
    expect(n.enabled).toBe(false);
    expect(lines.map((l) => l.level)).toEqual([50]);
    expect(lines[0]?.msg).toMatch(/unix-dgram/);
  });

  it('sends datagrams to the socket and removes NOTIFY_SOCKET from the environment', async () => {
    const dir = tmpDir('sg-notify-');
    dirs.push(dir);
    const path = join(dir.path, 'notify.sock');
    const received: string[] = [];
    const server = loadUnixDgram().createSocket('unix_dgram', (buf) => received.push(buf.toString()));
    sockets.push(server);
    server.bind(path);
    const { log } = capturingLogger();
    const env: NodeJS.ProcessEnv = { NOTIFY_SOCKET: path };
    const n = openNotifier({ log, env });
    expect(n.enabled).toBe(true);
    expect(env.NOTIFY_SOCKET).toBeUndefined();
    expect(n.notify({ READY: 1, STATUS: 'running' })).toBe(true);
    expect(n.notify({ WATCHDOG: 1 })).toBe(true);
    await waitFor(() => received.length === 2, 'two datagrams');
    expect(received).toEqual(['READY=1\nSTATUS=running', 'WATCHDOG=1']);
  });

  it('reports a socket that went away once, and recovers when it is back', async () => {
    const dir = tmpDir('sg-notify-');
    dirs.push(dir);
    const path = join(dir.path, 'notify.sock');
    const { log, lines } = capturingLogger();
    const n = openNotifier({ log, env: { NOTIFY_SOCKET: path } });
    expect(n.notify({ WATCHDOG: 1 })).toBe(false);
    expect(n.notify({ WATCHDOG: 1 })).toBe(false);
    expect(lines.filter((l) => l.msg === 'systemd notification not sent')).toHaveLength(1);
    const received: string[] = [];
    const server = loadUnixDgram().createSocket('unix_dgram', (buf) => received.push(buf.toString()));
    sockets.push(server);
    server.bind(path);
    expect(n.notify({ WATCHDOG: 1 })).toBe(true);
    await waitFor(() => received.length === 1, 'a datagram');
  });
});

describe('watchdog and test-hook settings from the environment', () => {
  it('pings at half of WATCHDOG_USEC, only for the process WATCHDOG_PID names', () => {
    expect(watchdogPingMs({ WATCHDOG_USEC: '30000000' }, 42)).toBe(15_000);
    expect(watchdogPingMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '42' }, 42)).toBe(15_000);
    expect(watchdogPingMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '41' }, 42)).toBeNull();
    expect(watchdogPingMs({}, 42)).toBeNull();
    expect(watchdogPingMs({ WATCHDOG_USEC: '0' }, 42)).toBeNull();
    expect(watchdogPingMs({ WATCHDOG_USEC: 'soon' }, 42)).toBeNull();
  });

  it('installs the freeze hook only for a sane length', () => {
    expect(freezeMsFromEnv({})).toBeNull();
    expect(freezeMsFromEnv({ [FREEZE_ENV]: '3000' })).toBe(3000);
    expect(freezeMsFromEnv({ [FREEZE_ENV]: '0' })).toBeNull();
    expect(freezeMsFromEnv({ [FREEZE_ENV]: '600000' })).toBeNull();
    expect(freezeMsFromEnv({ [FREEZE_ENV]: 'yes' })).toBeNull();
  });
});
