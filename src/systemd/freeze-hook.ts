import type { Logger } from '../logger.js';

/**
 * A test-only hook that makes SIGUSR2 block the event loop for a while, so the watchdog tests can
 * show that a hung gateway stops pinging. It exists only when the environment names it:
 *
 *   STORE_GATEWAY_TEST_FREEZE_ON_SIGUSR2=<ms>   (1 to 60000)
 *
 * Without that variable SIGUSR2 keeps Node's default action. The shipped unit removes the variable
 * with UnsetEnvironment=, so a drop-in's Environment= cannot switch it on, and the gateway logs a
 * warning at start whenever it is set.
 */
export const FREEZE_ENV = 'STORE_GATEWAY_TEST_FREEZE_ON_SIGUSR2';
const MAX_FREEZE_MS = 60_000;

/** The freeze length the environment asks for, or null (absent or out of range: no hook). */
export function freezeMsFromEnv(env: NodeJS.ProcessEnv = process.env): number | null {
  const raw = env[FREEZE_ENV];
  if (raw === undefined) return null;
  const ms = Number(raw);
  return Number.isInteger(ms) && ms >= 1 && ms <= MAX_FREEZE_MS ? ms : null;
}

/** Blocks the calling thread (and so the event loop) for `ms` without spinning a CPU. */
export function blockThread(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Installs the hook if the environment asks for it; returns its remover (a no-op otherwise). */
export function installFreezeHook(
  log: Logger,
  beforeFreeze: (ms: number) => void,
  env: NodeJS.ProcessEnv = process.env,
): () => void {
  const ms = freezeMsFromEnv(env);
  if (env[FREEZE_ENV] !== undefined && ms === null) {
    log.warn({ value: env[FREEZE_ENV] }, `${FREEZE_ENV} is not 1..${MAX_FREEZE_MS}: test hook not installed`);
  }
  if (ms === null) return () => {};
  log.warn(
    { freezeMs: ms },
    `test hook on: SIGUSR2 freezes the event loop (${FREEZE_ENV}); never set this in production`,
  );
  const onSignal = () => {
    beforeFreeze(ms);
    blockThread(ms);
  };
  process.on('SIGUSR2', onSignal);
  return () => process.off('SIGUSR2', onSignal);
}
