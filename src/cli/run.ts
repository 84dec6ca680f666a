import type { FastifyInstance } from 'fastify';
import { buildApi } from '../api/server.js';
import { loadConfigFile } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { EXIT, isGatewayError } from '../errors.js';
import { buildGateway, type Gateway, type GatewayDeps } from '../gateway.js';
import { createLogger, type Logger } from '../logger.js';
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
  gateway: Gateway;
  api: FastifyInstance | undefined;
  stop(): Promise<void>;
}

/** Starts a gateway and its API from a validated config. */
export async function startGateway(
  config: Config,
  deps: Partial<GatewayDeps> & { log: Logger },
): Promise<Running> {
  const gateway = buildGateway(config, deps);
  await gateway.start();
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
 * SIGINT/SIGTERM and stops cleanly. A second signal exits at once.
 */
export async function runCommand(configPath: string): Promise<number> {
  const config = readConfigOrReport(configPath);
  if (!config) return EXIT.CONFIG;
  const log = createLogger({ level: config.log.level, pretty: config.log.pretty });
  let running: Running;
  try {
    running = await startGateway(config, { log });
  } catch (err) {
    log.fatal({ err }, 'gateway failed to start');
    log.flush();
    return EXIT.FAILURE;
  }
  return new Promise<number>((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        log.warn({ signal }, 'second signal: exiting now');
        process.exit(EXIT.FAILURE);
      }
      stopping = true;
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
