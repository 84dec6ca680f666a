import { GatewayError } from '../errors.js';

/**
 * A driver that accepts host commands: a scanner's beep, enable and disable, for example. Optional:
 * the gateway detects it on the running driver (`gateway.driver(id)`) and offers the names from
 * `commands()` to central through the `device-command` command and `list-devices`.
 *
 * Contract for drivers (docs/COMMANDS.md):
 * - `commands()` lists the names this device accepts, lower-case kebab-case (`beep`, `enable`,
 *   `disable`, …). It may change with the device's state, but should list what the hardware can
 *   do, not what it can do right now.
 * - `command(name, args)` runs one and resolves with a JSON-serialisable result (or undefined).
 *   `args` is whatever central sent (an object, or undefined): the driver validates it.
 * - Failures reject with a `GatewayError`: `GW_ERR_COMMAND_INVALID` for bad args,
 *   `GW_ERR_DEVICE_COMMAND_FAILED` (retryable) when the device is not open, did not answer or
 *   refused (a NAK). Any other error is reported as `GW_ERR_DEVICE_COMMAND_FAILED` with its message.
 * - It must not block forever: the gateway gives up after `commands.deviceTimeoutMs` and replies
 *   `GW_ERR_DEVICE_COMMAND_FAILED`, but cannot cancel the driver's work.
 * - It never logs or returns reading contents (barcodes).
 *
 * Names a serial SSI scanner is expected to offer: `beep` (args `{ "tone"?: 0–25 }`, SSI BEEP),
 * `enable` (SSI SCAN_ENABLE, 0xE9) and `disable` (SSI SCAN_DISABLE, 0xEA).
 */
export interface CommandableDriver {
  commands(): string[];
  command(name: string, args: unknown): Promise<unknown>;
}

export function isCommandable(driver: unknown): driver is CommandableDriver {
  const d = driver as Partial<CommandableDriver> | null | undefined;
  return typeof d?.commands === 'function' && typeof d?.command === 'function';
}

/** The commands a running driver offers; [] for one that offers none (or fails to say). */
export function commandsOf(driver: unknown): string[] {
  if (!isCommandable(driver)) return [];
  try {
    const names = driver.commands();
    return Array.isArray(names) ? names.filter((n): n is string => typeof n === 'string') : [];
  } catch {
    return [];
  }
}

/**
 * Runs one device command: unknown device → GW_ERR_DEVICE_UNKNOWN; a device that does not offer
 * the command → GW_ERR_DEVICE_UNSUPPORTED; a driver error or no answer in time →
 * GW_ERR_DEVICE_COMMAND_FAILED (unless the driver threw a coded error itself).
 */
export async function runDeviceCommand(
  driverOf: (id: string) => unknown,
  req: { device: string; command: string; args?: unknown },
  timeoutMs: number,
): Promise<unknown> {
  const driver = driverOf(req.device);
  if (driver === undefined) {
    throw new GatewayError('GW_ERR_DEVICE_UNKNOWN', `no device "${req.device}" runs on this gateway`);
  }
  const offered = commandsOf(driver);
  if (!isCommandable(driver) || !offered.includes(req.command)) {
    throw new GatewayError(
      'GW_ERR_DEVICE_UNSUPPORTED',
      `device "${req.device}" does not support "${req.command}"`,
      { details: { supported: offered } },
    );
  }
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new GatewayError(
            'GW_ERR_DEVICE_COMMAND_FAILED',
            `device "${req.device}" did not finish "${req.command}" within ${timeoutMs} ms`,
          ),
        ),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([Promise.resolve().then(() => driver.command(req.command, req.args)), timeout]);
  } catch (err) {
    if (err instanceof GatewayError) throw err;
    throw new GatewayError(
      'GW_ERR_DEVICE_COMMAND_FAILED',
      `device "${req.device}" failed "${req.command}": ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  } finally {
    clearTimeout(timer);
  }
}
