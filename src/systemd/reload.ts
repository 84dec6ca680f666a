import type { CommandContext } from '../downlink/command.js';
import { reloadConfig } from '../downlink/config-commands.js';
import { isGatewayError } from '../errors.js';
import type { Gateway } from '../gateway.js';
import type { Logger } from '../logger.js';

export type ReloadOutcome =
  | { ok: true; restarted: boolean; version: string | null }
  | { ok: false; code: string; message: string; details?: unknown };

/**
 * SIGHUP (`systemctl reload store-gateway`): runs the downlink's reload-config command locally, so
 * both paths behave the same. The config file is read and checked as `config check` does; an
 * invalid file changes nothing; a file equal to the running config changes nothing; otherwise the
 * gateway restarts with it and rolls back unless it reaches the broker within
 * `commands.confirmSec`. The new `log.level` takes effect with the restart.
 */
export async function reloadOnSignal(gateway: Gateway, log: Logger, at: number): Promise<ReloadOutcome> {
  const id = `sighup-${new Date(at).toISOString()}`;
  const ctx: CommandContext = {
    gateway,
    supervisor: gateway.supervisor,
    settings: gateway.config.commands,
    commandId: id,
    now: at,
    // Only replies to central carry the version; a local reload has none to report.
    configVersion: null,
    setConfigVersion: () => {},
    log,
    // A restart stops the command processor, which waits for commands in flight; this is not one.
    restarting: () => {},
  };
  try {
    const result = (await reloadConfig.run(ctx, {})) as { restarted: boolean; version: string | null };
    return { ok: true, ...result };
  } catch (err) {
    if (isGatewayError(err)) return { ok: false, code: err.code, message: err.message, details: err.details };
    return { ok: false, code: 'error', message: (err as Error).message };
  }
}
