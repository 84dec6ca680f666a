import { performance } from 'node:perf_hooks';
import type { Logger } from '../logger.js';
import type { HealthReport } from './health.js';
import type { Notifier } from './notify.js';

/**
 * The watchdog interval systemd asked for: $WATCHDOG_USEC, unless $WATCHDOG_PID names another
 * process (sd_watchdog_enabled(3)). Returns the ping interval in ms (half the timeout, as
 * systemd recommends), or null when there is no watchdog.
 */
export function watchdogPingMs(env: NodeJS.ProcessEnv = process.env, pid = process.pid): number | null {
  const usec = Number(env.WATCHDOG_USEC);
  if (!env.WATCHDOG_USEC || !Number.isSafeInteger(usec) || usec <= 0) return null;
  if (env.WATCHDOG_PID && Number(env.WATCHDOG_PID) !== pid) return null;
  return Math.max(1, Math.floor(usec / 2000));
}

/** How often STATUS= is refreshed when systemd runs no watchdog. */
export const STATUS_EVERY_MS = 30_000;

export interface WatchdogOptions {
  notifier: Notifier;
  log: Logger;
  /** Runs the health checks; `lateMs` is how late this check's timer fired. */
  check: (lateMs: number) => Promise<HealthReport>;
  /** Ping interval (half of WatchdogSec), or null: only STATUS= is kept up to date. */
  pingMs: number | null;
}

/**
 * Sends WATCHDOG=1 every `pingMs` while the health checks pass, with a STATUS= line. When a check
 * fails, the ping is withheld, STATUS= says why, and the checks run again every second or so: a
 * passing check pings at once, so a short stall only delays one ping, while a lasting fault lets
 * WatchdogSec run out and systemd restarts the service. A frozen event loop sends nothing at all,
 * and the first check after it sees the lag and withholds the ping that was due.
 */
export class Watchdog {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private healthy = true;
  private lastStatus = '';
  private readonly retryMs: number;

  constructor(private readonly opts: WatchdogOptions) {
    const every = opts.pingMs ?? STATUS_EVERY_MS;
    this.retryMs = Math.max(100, Math.min(1000, Math.floor(every / 4)));
  }

  get enabled(): boolean {
    return this.opts.pingMs !== null;
  }

  start(): void {
    if (this.running || !this.opts.notifier.enabled) return;
    this.running = true;
    this.schedule(this.opts.pingMs ?? STATUS_EVERY_MS);
  }

  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(ms: number): void {
    if (!this.running) return;
    const due = performance.now() + ms;
    this.timer = setTimeout(() => void this.tick(performance.now() - due), ms);
    this.timer.unref();
  }

  private async tick(lateMs = 0): Promise<void> {
    let report: HealthReport;
    try {
      report = await this.opts.check(lateMs);
    } catch (err) {
      report = {
        ok: false,
        problems: [`health check failed: ${(err as Error).message}`],
        summary: 'unknown',
      };
    }
    if (!this.running) return;
    this.send(report);
    this.schedule(report.ok ? (this.opts.pingMs ?? STATUS_EVERY_MS) : this.retryMs);
  }

  /** Runs one check now (tests drive the loop with it instead of waiting for the timer). */
  async tickNow(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const wasRunning = this.running;
    this.running = true;
    await this.tick();
    if (!wasRunning) this.stop();
  }

  private send(report: HealthReport): void {
    const { notifier, log, pingMs } = this.opts;
    if (report.ok) {
      if (!this.healthy) log.info('health checks pass again: watchdog pings resumed');
      this.healthy = true;
      const status = `running: ${report.summary}`;
      const fields: Record<string, string> = pingMs === null ? {} : { WATCHDOG: '1' };
      if (status !== this.lastStatus) fields.STATUS = status;
      this.lastStatus = status;
      if (Object.keys(fields).length > 0) notifier.notify(fields);
      return;
    }
    const problems = report.problems.join('; ');
    if (this.healthy) {
      log.warn(
        { problems: report.problems, watchdog: pingMs !== null },
        pingMs === null ? 'health check failed' : 'health check failed: watchdog ping withheld',
      );
    }
    this.healthy = false;
    const status = `unhealthy: ${problems}`;
    if (status !== this.lastStatus) notifier.notify({ STATUS: status });
    this.lastStatus = status;
  }
}
