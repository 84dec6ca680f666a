import {
  closeSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { stringify } from 'yaml';

/*
 * The config file as apply-config writes it: a two-line header naming its version, then the YAML.
 *
 *   # store-gateway config version: 2026-11-24.1
 *   # written by the apply-config command 0198c1e2-... at 2026-11-24T08:07:06.536Z; the previous file is config.yaml.prev
 */

const VERSION_LINE = '# store-gateway config version: ';
const WRITTEN_LINE = '# written by the apply-config command ';

/** A config version as central names it; it must fit on one header line. */
export const CONFIG_VERSION_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._:+-]{0,63}$';

/** The version in a config file's header, or null for a file without one (written by hand). */
export function configVersionOf(text: string): string | null {
  for (const line of text.split('\n', 4)) {
    if (line.startsWith(VERSION_LINE)) return line.slice(VERSION_LINE.length).trim() || null;
    if (!line.startsWith('#')) break;
  }
  return null;
}

/** The file text for a config document (an object, or YAML text) with the version header. */
export function composeConfigText(
  doc: unknown,
  meta: { version: string; commandId: string; time: string; previousName: string },
): string {
  let body = typeof doc === 'string' ? doc : stringify(doc);
  // A document fetched from a gateway and sent back keeps only the new header.
  const lines = body.split('\n');
  while (lines[0]?.startsWith(VERSION_LINE) || lines[0]?.startsWith(WRITTEN_LINE)) lines.shift();
  body = lines.join('\n');
  const header =
    `${VERSION_LINE}${meta.version}\n` +
    `${WRITTEN_LINE}${meta.commandId} at ${meta.time}; the previous file is ${meta.previousName}\n`;
  return header + (body.endsWith('\n') ? body : `${body}\n`);
}

/**
 * Writes a file so that a crash leaves either the old or the new content, never a mix: a temp
 * file in the same directory, fsync, rename over the target, fsync of the directory.
 */
export function writeFileAtomic(path: string, text: string, mode = 0o640): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  const fd = openSync(tmp, 'wx', mode);
  try {
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // already renamed or never written
    }
    throw err;
  }
  const dir = openSync(dirname(path), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

export interface ReplacedFile {
  /** The text the file held before. */
  previous: string;
  /** Where that text is kept (`<path>.prev`). */
  previousPath: string;
  /** Puts the previous text back at the path (atomically). */
  restore(): void;
}

/**
 * Replaces a config file with `text`, keeping what it held before in `<path>.prev` (written first,
 * so the previous version is on disk before the file changes). Both keep the file's mode.
 */
export function replaceConfigFile(path: string, text: string): ReplacedFile {
  const previous = readFileSync(path, 'utf8');
  const mode = statSync(path).mode & 0o777;
  const previousPath = `${path}.prev`;
  writeFileAtomic(previousPath, previous, mode);
  writeFileAtomic(path, text, mode);
  return { previous, previousPath, restore: () => writeFileAtomic(path, previous, mode) };
}
