import { resolve as resolvePath } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApi } from '../api/server.js';
import { loadConfigFile } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { type GatewaySupervisor, Supervisor } from '../downlink/supervisor.js';
import { EXIT, isGatewayError } from '../errors.js';
import { buildGateway, type Gateway, type GatewayDeps } from '../gateway.js';
import { createLogger, type Logger } from '../logger.js';
import { SystemdService } from '../systemd/service.js';
import { fail, printConfigIssues } from './output.js';

/** Loads and checks a config file; prints every problem and returns null when it is invalid. */
export function readConfigOrReport(path: string): Config | null {
  try {
    const result = loadConfigFile(path);
    if (result.ok) return result.config;
    printConfigIssues(path, result.issues);
  } catch (err) {
    fail(isGatewayError(err) ? err.message : String(err));
  }
  return null;
}

export interface Running {
  /** The gateway running now (an apply-config or reload-config command replaces it). */
  readonly gateway: Gateway;
  readonly api: FastifyInstance | undefined;
  stop(): Promise<void>;
  /** Swaps the gateway and its API for ones with another config, rolling back if they cannot start. */
  restart: GatewaySupervisor['restart'];
}

export interface StartOptions extends Partial<GatewayDeps> {
  log: Logger;
  /** The config file, for the reload-config and apply-config commands. */
  configPath?: string;
  /** Neither a new config nor the previous one could be started again: the process should exit. */
  onFatal?: (err: unknown) => void;
}

interface Parts {
  gateway: Gateway;
  api: FastifyInstance | undefined;
  stop(): Promise<void>;
}

/** Starts a gateway and its API from a validated config; a supervisor may restart both with another. */
export async function startGateway(config: Config, opts: StartOptions): Promise<Running> {
  const { configPath, onFatal, ...deps } = opts;
  let metrics = deps.metrics;
  const supervisor: Supervisor<Parts> = new Supervisor<Parts>({
    log: deps.log,
    configPath,
    onFatal,
    start: async (c) => {
      const parts = await startParts(c, { ...deps, metrics, supervisor });
      // One registry across restarts, so counters keep counting.
      metrics = parts.gateway.metrics;
      return parts;
    },
  });
  await supervisor.start(config);
  return {
    get gateway() {
      return supervisor.current.gateway;
    },
    get api() {
      return supervisor.current.api;
    },
    stop: () => supervisor.stop(),
    restart: (c, o) => supervisor.restart(c, o),
  };
}

/** One gateway and its API; what started is stopped again when a later step fails. */
async function startParts(config: Config, deps: GatewayDeps): Promise<Parts> {
  const gateway = buildGateway(config, deps);
  try {
    await gateway.start();
  } catch (err) {
    await gateway.stop().catch(() => {});
    throw err;
  }
  let api: FastifyInstance | undefined;
  if (config.api.enabled) {
    api = buildApi(gateway);
    try {
      const url = await api.listen({ host: config.api.host, port: config.api.port });
      deps.log.info({ url }, 'local API listening');
    } catch (err) {
      await gateway.stop();
      throw err;
    }
  }
  return {
    gateway,
    api,
    async stop() {
      await api?.close();
      await gateway.stop();
    },
  };
}

/**
 * `store-gateway run`: refuses an invalid config (exit 78) before opening anything, then runs until
 * SIGINT/SIGTERM and stops cleanly. A second signal exits at once. SIGHUP reloads the config file
 * (as the reload-config command does). Under systemd (Type=notify) it reports READY=1 once the
 * gateway and its API run, pings the watchdog while healthy, and STOPPING=1 when a stop begins.
 */
export async function runCommand(configPath: string): Promise<number> {
  const config = readConfigOrReport(configPath);
  if (!config) return EXIT.CONFIG;
  const log = createLogger({ level: config.log.level, pretty: config.log.pretty });
  const service = new SystemdService({ log });
  process.on('SIGHUP', () => void service.reload());
  let running: Running;
  // A restart whose rollback failed too leaves nothing running: exit, so the service manager restarts us.
  let exitNow: (code: number) => void = () => {};
  const fatal = new Promise<number>((resolve) => {
    exitNow = resolve;
  });
  try {
    running = await startGateway(config, {
      log,
      configPath: resolvePath(configPath),
      onFatal: () => {
        service.stopping('no config could be started: exiting');
        log.flush();
        exitNow(EXIT.FAILURE);
        // Whatever the failed start left behind must not keep a gateway-less process alive.
        setTimeout(() => process.exit(EXIT.FAILURE), 5000).unref();
      },
    });
  } catch (err) {
    log.fatal({ err }, 'gateway failed to start');
    service.close();
    log.flush();
    return EXIT.FAILURE;
  }
  service.ready(running);
  return new Promise<number>((resolve) => {
    void fatal.then(resolve);
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        log.warn({ signal }, 'second signal: exiting now');
        process.exit(EXIT.FAILURE);
      }
      stopping = true;
      service.stopping();
      log.info({ signal }, 'stopping');
      running.stop().then(
        () => resolve(EXIT.OK),
        (err: unknown) => {
          log.error({ err }, 'unclean stop');
          resolve(EXIT.FAILURE);
        },
      );
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
