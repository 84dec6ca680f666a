import type { Config } from '../config/schema.js';
import type { Gateway } from '../gateway.js';
import type { Logger } from '../logger.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface RestartOptions {
  /** Why, for the log. */
  reason: string;
  /** Runs on the new gateway once it has started; a rejection rolls back (e.g. "must reach the broker"). */
  verify?: (gateway: Gateway) => Promise<void>;
  /** Runs before the previous config is started again (e.g. put the previous config file back). */
  beforeRollback?: () => void;
}

export type RestartOutcome =
  | { ok: true }
  /** `rolledBack`: the previous config runs again. False only if that failed too (the process then exits). */
  | { ok: false; error: string; rolledBack: boolean };

/**
 * What owns the gateway's lifecycle (the `run` command): the commands that change the running
 * config or the log level reach it through `gateway.supervisor`. A gateway built without one
 * (tests, tools) answers those commands with GW_ERR_COMMAND_UNSUPPORTED.
 */
export interface GatewaySupervisor {
  /** The config file the gateway was started from; undefined when started from a config object. */
  readonly configPath: string | undefined;
  /** The gateway running now; a restart replaces it. */
  readonly gateway: Gateway;
  /** Stops the gateway's parts and starts them with `config`; on failure, starts the previous config again. */
  restart(config: Config, opts: RestartOptions): Promise<RestartOutcome>;
  /** Sets the level of the process's logger (every child follows); returns the previous level. */
  setLogLevel(level: LogLevel): string;
}

/** One running incarnation: the gateway and whatever runs beside it (the local API). */
export interface Parts {
  gateway: Gateway;
  stop(): Promise<void>;
}

export interface SupervisorOptions<P extends Parts> {
  /** Starts a gateway (and its API) with a config; on failure it must have stopped what it started. */
  start(config: Config): Promise<P>;
  /** The process's root logger. */
  log: Logger;
  configPath?: string;
  /** Called when neither the new nor the previous config could be started: the process should exit. */
  onFatal?: (err: unknown) => void;
}

/**
 * Runs one gateway at a time and swaps it for another config on request, rolling back to the
 * previous config when the new one cannot start. Start, restart and stop are serialised.
 */
export class Supervisor<P extends Parts> implements GatewaySupervisor {
  private parts: P | undefined;
  private config: Config | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  private stopped = false;

  constructor(private readonly opts: SupervisorOptions<P>) {}

  get configPath(): string | undefined {
    return this.opts.configPath;
  }

  get current(): P {
    if (!this.parts) throw new Error('gateway not started');
    return this.parts;
  }

  get gateway(): Gateway {
    return this.current.gateway;
  }

  private serial<T>(task: () => Promise<T>): Promise<T> {
    const next = this.chain.then(task, task);
    this.chain = next.catch(() => {});
    return next;
  }

  start(config: Config): Promise<void> {
    return this.serial(async () => {
      this.parts = await this.opts.start(config);
      this.config = config;
    });
  }

  stop(): Promise<void> {
    return this.serial(async () => {
      if (this.stopped) return;
      this.stopped = true;
      await this.parts?.stop();
    });
  }

  setLogLevel(level: LogLevel): string {
    const previous = this.opts.log.level;
    this.opts.log.level = level;
    return previous;
  }

  restart(config: Config, opts: RestartOptions): Promise<RestartOutcome> {
    return this.serial(() => this.swap(config, opts));
  }

  private async swap(config: Config, opts: RestartOptions): Promise<RestartOutcome> {
    const { log } = this.opts;
    const previous = this.config;
    if (this.stopped || !previous || !this.parts) {
      return { ok: false, error: 'the gateway is stopping', rolledBack: false };
    }
    log.info({ reason: opts.reason }, 'restarting the gateway with a new config');
    try {
      await this.parts.stop();
    } catch (err) {
      log.error({ err }, 'the gateway did not stop cleanly before the restart');
    }
    this.parts = undefined;
    let error: string;
    try {
      log.level = config.log.level;
      const next = await this.opts.start(config);
      try {
        await opts.verify?.(next.gateway);
      } catch (err) {
        await next.stop();
        throw err;
      }
      this.parts = next;
      this.config = config;
      log.info({ reason: opts.reason }, 'gateway restarted with the new config');
      return { ok: true };
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
      log.error({ err, reason: opts.reason }, 'the gateway cannot run with the new config; rolling back');
    }
    try {
      opts.beforeRollback?.();
    } catch (err) {
      log.error({ err }, 'could not undo the config change before the rollback');
    }
    try {
      log.level = previous.log.level;
      this.parts = await this.opts.start(previous);
      log.warn({ reason: opts.reason }, 'rolled back: the gateway runs with the previous config');
      return { ok: false, error, rolledBack: true };
    } catch (err) {
      log.fatal({ err }, 'the previous config cannot be started again either');
      this.stopped = true;
      this.opts.onFatal?.(err);
      return { ok: false, error, rolledBack: false };
    }
  }
}
