import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FREEZE_ENV } from '../../src/systemd/freeze-hook.js';
import { configPath, testConfig, writeConfig } from '../helpers/config.js';
import { GatewayProcess } from '../helpers/gateway-process.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { isWatchdogPing, type NotifyMessage, NotifyReceiver } from '../helpers/notify-socket.js';
import { tmpDir } from '../helpers/tmp.js';

/*
 * Fault row 12: a hung event loop. The built CLI runs as systemd starts it (NOTIFY_SOCKET names a
 * datagram socket this test binds, WATCHDOG_USEC asks for pings every WATCHDOG_USEC/2). The test
 * hook (STORE_GATEWAY_TEST_FREEZE_ON_SIGUSR2, src/systemd/freeze-hook.ts) blocks the gateway's only
 * thread on SIGUSR2, as an endless loop or a blocking call would. Pass: no WATCHDOG=1 arrives while
 * the loop is blocked, so the silence is longer than WatchdogSec (systemd would kill and restart
 * the service); the first check after the hang reports the lag instead of pinging; pings resume by
 * themselves once the loop runs again. There is no systemd as PID 1 here, so the kill itself is
 * systemd's part and not exercised.
 */

const WATCHDOG_USEC = 2_000_000; // WatchdogSec=2s: a ping every 1 s
const FREEZE_MS = 5_000;
const PINGS_AROUND = 4; // steady pings observed before and after the hang

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : (s[Math.floor(s.length / 2)] as number);
};

/** Arrival intervals between consecutive watchdog pings among `messages`. */
function pingIntervals(messages: NotifyMessage[]): number[] {
  const at = messages.filter((m) => isWatchdogPing(m.fields)).map((m) => m.at);
  return at.slice(1).map((t, i) => t - (at[i] as number));
}

describe('fault: hung event loop (watchdog through the notify socket)', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await Promise.resolve(fn()).catch(() => {});
  });

  it('stops pinging while the loop is blocked, longer than WatchdogSec, and pings again after', {
    timeout: 120_000,
  }, async () => {
    const broker = await Mosquitto.start();
    cleanup.push(() => broker.dispose());
    const dir = tmpDir('sg-hung-');
    cleanup.push(() => dir.cleanup());
    const receiver = new NotifyReceiver(join(dir.path, 'notify.sock'));
    cleanup.push(() => receiver.close());
    const file = writeConfig(configPath(dir.path), testConfig({ dir: dir.path, mqttUrl: broker.url }));
    const gw = GatewayProcess.run(file, {
      NOTIFY_SOCKET: receiver.path,
      WATCHDOG_USEC: String(WATCHDOG_USEC),
      [FREEZE_ENV]: String(FREEZE_MS),
    });
    cleanup.push(async () => {
      await gw.kill('SIGKILL');
    });

    const ready = await receiver.next((f) => f.READY === '1', 'READY=1');
    let last = ready;
    for (let i = 0; i < PINGS_AROUND; i++) {
      last = await receiver.next(isWatchdogPing, `steady ping ${i + 1}`, last + 1);
    }
    const before = pingIntervals(receiver.messages.slice(ready + 1, last + 1));

    process.kill(gw.pid, 'SIGUSR2');
    const frozen = await receiver.next(
      (f) => f.STATUS?.startsWith('freezing the event loop') ?? false,
      'the hook saying it freezes the loop',
      last + 1,
    );
    // Datagrams from one sender arrive in order, and the hook sends its STATUS= just before it
    // blocks: everything after it was sent once the loop ran again.
    const resumed = await receiver.next(isWatchdogPing, 'the first ping after the hang', frozen + 1, 60_000);
    const lastBefore = receiver.messages.slice(0, frozen).findLastIndex((m) => isWatchdogPing(m.fields));
    expect(lastBefore).toBeGreaterThan(ready);

    // While blocked: nothing. The first message after the hang is the failed check, not a ping.
    const afterHang = receiver.messages.slice(frozen + 1, resumed).map((m) => m.fields);
    expect(afterHang.length).toBeGreaterThanOrEqual(1);
    for (const f of afterHang) expect(Object.keys(f)).toEqual(['STATUS']);
    const lagMs = Number(/^unhealthy: event loop lag (\d+) ms/.exec(afterHang[0]?.STATUS ?? '')?.[1]);
    expect(lagMs).toBeGreaterThan(WATCHDOG_USEC / 2000);

    // The silence systemd would have seen covers the whole hang, so WatchdogSec ran out.
    const gapMs = receiver.at(resumed).at - receiver.at(lastBefore).at;
    expect(gapMs).toBeGreaterThan(WATCHDOG_USEC / 1000);
    const recoveryMs = receiver.at(resumed).at - receiver.at(frozen + 1).at;

    // Then steady pings again, from the same process.
    let next = resumed;
    for (let i = 0; i < PINGS_AROUND; i++) {
      next = await receiver.next(isWatchdogPing, `ping ${i + 1} after the hang`, next + 1);
    }
    const after = pingIntervals(receiver.messages.slice(resumed, next + 1));
    expect(after).toHaveLength(PINGS_AROUND);
    expect(gw.alive).toBe(true);
    await gw.waitForLog(
      (l) => l.msg === 'health checks pass again: watchdog pings resumed',
      'the recovery log line',
      30_000,
    );
    await gw.ready(60_000);

    console.log(
      `fault: hung event loop: WatchdogSec ${WATCHDOG_USEC / 1e6} s, ping interval median ` +
        `${Math.round(median(before))} ms before / ${Math.round(median(after))} ms after; loop blocked ` +
        `${FREEZE_MS} ms → no ping for ${Math.round(gapMs)} ms (over WatchdogSec: systemd restarts the ` +
        `service); the first check after reported lag ${lagMs} ms and withheld its ping; pings resumed ` +
        `${Math.round(recoveryMs)} ms later`,
    );
  });
});
