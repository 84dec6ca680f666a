import { readFileSync, statSync } from 'node:fs';
import { GatewayError } from '../errors.js';
import type { EpochKey } from '../privacy/key-store.js';
import type { KeySource } from '../privacy/pseudonymizer.js';

/** Shortest secret accepted in a key file. */
export const MIN_KEY_BYTES = 16;

/**
 * Reads a secret from a file (a systemd credential, never the config): its bytes without the
 * trailing newline. Throws GW_ERR_KEY_FILE when it cannot be read or is too short; the message names
 * the file, never its content.
 */
export function readKeyFile(path: string, what: string): Buffer {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new GatewayError('GW_ERR_KEY_FILE', `${what}: cannot read ${path}: ${(err as Error).message}`);
  }
  let end = bytes.length;
  while (end > 0 && (bytes[end - 1] === 0x0a || bytes[end - 1] === 0x0d)) end--;
  const key = Buffer.from(bytes.subarray(0, end));
  bytes.fill(0);
  if (key.length < MIN_KEY_BYTES) {
    key.fill(0);
    throw new GatewayError('GW_ERR_KEY_FILE', `${what}: ${path} holds fewer than ${MIN_KEY_BYTES} bytes`);
  }
  return key;
}

/** Whether users other than the owner may read `path` (the caller logs a warning). */
export function readableByOthers(path: string): boolean {
  try {
    return (statSync(path).mode & 0o077) !== 0;
  } catch {
    return false;
  }
}

/**
 * A key that does not rotate, for hashes central must be able to recompute (loyalty ids): the
 * Pseudonymizer of src/privacy runs on it unchanged. Its epoch is "static".
 */
export class StaticKeySource implements KeySource {
  private readonly current: EpochKey;

  constructor(key: Buffer) {
    this.current = { epoch: 'static', key };
  }

  keyFor(): EpochKey {
    return this.current;
  }

  close(): void {
    this.current.key.fill(0);
  }
}
