import type { FastifyInstance } from 'fastify';
import type { Gateway } from '../gateway.js';
import type { Logger } from '../logger.js';
import { installFreezeHook } from './freeze-hook.js';
import { DEFAULT_HEALTH, HealthChecks, type HealthOptions, LoopLag, summarize } from './health.js';
import { type Notifier, openNotifier } from './notify.js';
import { reloadOnSignal } from './reload.js';
import { Watchdog, watchdogPingMs } from './watchdog.js';

/** What `store-gateway run` has running; the gateway getter throws while a restart swaps it. */
export interface RunningGateway {
  readonly gateway: Gateway;
  readonly api: FastifyInstance | undefined;
}

export interface ServiceOptions {
  log: Logger;
  env?: NodeJS.ProcessEnv;
  /** Tests pass a notifier; by default it comes from $NOTIFY_SOCKET. */
  notifier?: Notifier;
  health?: Partial<HealthOptions>;
}

/** CLOCK_MONOTONIC in µs, which systemd wants with RELOADING=1 (Node's hrtime is that clock on Linux). */
const monotonicUsec = (): string => (process.hrtime.bigint() / 1000n).toString();

/**
 * The gateway's side of the systemd service contract (systemd/store-gateway.service, Type=notify):
 * READY=1 once the buffer is open, the devices have started and the API listens; WATCHDOG=1 while
 * the health checks pass; RELOADING=1 … READY=1 around a SIGHUP reload; STOPPING=1 when a stop
 * begins; STATUS= with a one-line summary throughout. Outside systemd every call is a no-op.
 */
export class SystemdService {
  private readonly log: Logger;
  private readonly notifier: Notifier;
  private readonly pingMs: number | null;
  private readonly removeFreezeHook: () => void;
  private watchdog: Watchdog | undefined;
  private lag: LoopLag | undefined;
  private running: RunningGateway | undefined;
  private reloads: Promise<unknown> = Promise.resolve();
  private stopped = false;

  constructor(private readonly opts: ServiceOptions) {
    const env = opts.env ?? process.env;
    this.log = opts.log.child({ component: 'systemd' });
    this.notifier = opts.notifier ?? openNotifier({ log: opts.log, env });
    this.pingMs = this.notifier.enabled ? watchdogPingMs(env) : null;
    this.removeFreezeHook = installFreezeHook(this.log, (ms) =>
      this.notifier.notify({ STATUS: `freezing the event loop for ${ms} ms (test hook)` }),
    );
  }

  get notifying(): boolean {
    return this.notifier.enabled;
  }

  /** The gateway is serving: READY=1, then the watchdog (or the STATUS= refresh) starts. */
  ready(running: RunningGateway): void {
    this.running = running;
    this.notifier.notify({ READY: 1, STATUS: `running: ${this.summary()}` });
    if (!this.notifier.enabled) return;
    this.lag = new LoopLag();
    // A stall longer than the ping interval already costs a ping; the limit is never above it.
    const maxLagMs = Math.min(DEFAULT_HEALTH.maxLagMs, this.pingMs ?? Number.POSITIVE_INFINITY);
    const checks = new HealthChecks(() => this.current(), this.lag, {
      ...DEFAULT_HEALTH,
      maxLagMs,
      ...this.opts.health,
    });
    this.watchdog = new Watchdog({
      notifier: this.notifier,
      log: this.log,
      check: (lateMs) => checks.run(lateMs),
      pingMs: this.pingMs,
    });
    this.watchdog.start();
    this.log.info(
      { watchdogPingMs: this.pingMs },
      this.pingMs === null ? 'systemd notified: ready' : 'systemd notified: ready; watchdog on',
    );
  }

  /** SIGHUP: re-reads the config file as the reload-config command does. Reloads run one at a time. */
  reload(): Promise<void> {
    const next = this.reloads.then(() => this.reloadOnce());
    this.reloads = next.catch(() => {});
    return next;
  }

  private async reloadOnce(): Promise<void> {
    const gateway = this.current();
    if (this.stopped || !gateway) {
      this.log.warn('SIGHUP ignored: the gateway is stopping or restarting');
      return;
    }
    this.log.info('SIGHUP: reloading the config file');
    this.notifier.notify({ RELOADING: 1, MONOTONIC_USEC: monotonicUsec(), STATUS: 'reloading the config' });
    const outcome = await reloadOnSignal(gateway, this.log, gateway.clock.now());
    if (outcome.ok) {
      this.log.info(
        { restarted: outcome.restarted, version: outcome.version },
        outcome.restarted ? 'config reloaded' : 'config unchanged: nothing to reload',
      );
    } else {
      this.log.error(
        { code: outcome.code, details: outcome.details, error: outcome.message },
        'config not reloaded',
      );
    }
    if (this.stopped) return;
    const note = outcome.ok ? '' : ` (last reload failed: ${outcome.code})`;
    this.notifier.notify({ READY: 1, STATUS: `running: ${this.summary()}${note}` });
  }

  /** The stop has begun: STOPPING=1, and no more pings. */
  stopping(reason = 'stopping'): void {
    if (this.stopped) return;
    this.stopped = true;
    this.close();
    this.notifier.notify({ STOPPING: 1, STATUS: reason });
  }

  /** Stops the timers and the test hook (the notifier holds nothing open). */
  close(): void {
    this.watchdog?.stop();
    this.lag?.stop();
    this.removeFreezeHook();
  }

  private current(): Gateway | undefined {
    try {
      return this.running?.gateway;
    } catch {
      return undefined; // between two gateways during a restart
    }
  }

  private summary(): string {
    const gateway = this.current();
    if (!gateway) return 'restarting the gateway';
    return `${summarize(gateway.status())}${apiAddress(this.running?.api)}`;
  }
}

/** ", API 127.0.0.1:8080" for the STATUS= line, or nothing when the API is off. */
function apiAddress(api: FastifyInstance | undefined): string {
  const a = api?.server.address();
  if (!a || typeof a === 'string') return '';
  return `, API ${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
}
