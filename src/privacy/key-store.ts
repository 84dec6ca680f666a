import { randomBytes as nodeRandomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

const DAY_MS = 86_400_000;
const KEY_BYTES = 32;

/** The key period a time falls in: the UTC date of `now − rotateAtUtcHour`, e.g. "2026-11-24". */
export function epochOf(nowMs: number, rotateAtUtcHour: number): string {
  return new Date(nowMs - rotateAtUtcHour * 3_600_000).toISOString().slice(0, 10);
}

/** When the key period containing `nowMs` ends. */
export function epochEndsAt(nowMs: number, rotateAtUtcHour: number): number {
  const shift = rotateAtUtcHour * 3_600_000;
  return Math.floor((nowMs - shift) / DAY_MS) * DAY_MS + DAY_MS + shift;
}

export interface KeyStoreOptions {
  /** The key file; written with mode 0600, replaced atomically on rotation. */
  file: string;
  rotateAtUtcHour: number;
  /** Injected in tests. */
  randomBytes?: (n: number) => Buffer;
}

export interface EpochKey {
  epoch: string;
  key: Buffer;
}

interface KeyFile {
  version: 1;
  epoch: string;
  key: string;
}

/**
 * The per-store pseudonymization key, one per day. The file holds only the current key: at
 * rotation a new random key replaces it (atomic rename) and the old one is zeroed in memory, so
 * yesterday's pseudonyms cannot be recomputed, even by the gateway. A restart within the same day
 * reuses the day's key, so pseudonyms stay stable across restarts.
 */
export class KeyStore {
  private current: EpochKey | undefined;
  private readonly random: (n: number) => Buffer;
  /** Set when the key could not be written; the in-memory key is used anyway. */
  lastError: string | undefined;
  rotations = 0;

  constructor(private readonly opts: KeyStoreOptions) {
    this.random = opts.randomBytes ?? nodeRandomBytes;
  }

  /** The key for the period containing `nowMs`, rotating (and forgetting the old key) when it changed. */
  keyFor(nowMs: number): EpochKey {
    const epoch = epochOf(nowMs, this.opts.rotateAtUtcHour);
    if (this.current?.epoch === epoch) return this.current;
    if (this.current) this.rotations++;
    const previous = this.current;
    this.current = this.loadFor(epoch) ?? this.create(epoch);
    previous?.key.fill(0);
    return this.current;
  }

  private loadFor(epoch: string): EpochKey | undefined {
    let parsed: Partial<KeyFile>;
    try {
      parsed = JSON.parse(readFileSync(this.opts.file, 'utf8')) as Partial<KeyFile>;
    } catch {
      return undefined;
    }
    if (parsed.version !== 1 || parsed.epoch !== epoch || typeof parsed.key !== 'string') return undefined;
    const key = Buffer.from(parsed.key, 'base64');
    return key.length === KEY_BYTES ? { epoch, key } : undefined;
  }

  private create(epoch: string): EpochKey {
    const key = this.random(KEY_BYTES);
    try {
      this.write({ version: 1, epoch, key: key.toString('base64') });
      this.lastError = undefined;
    } catch (err) {
      this.lastError = (err as Error).message;
    }
    return { epoch, key };
  }

  private write(content: KeyFile): void {
    const file = this.opts.file;
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    const tmp = `${file}.tmp-${process.pid}`;
    // Created 0600 from the start: the key is never readable by others, not even for a moment.
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, `${JSON.stringify(content)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  }

  /** Forgets the key in memory (stop). */
  close(): void {
    this.current?.key.fill(0);
    this.current = undefined;
  }
}
