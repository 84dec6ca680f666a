import { readFile } from 'node:fs/promises';
import { sleep } from '../util/sleep.js';
import { parseRecording, type Recording, type RecordingEntry } from './format.js';

/** Reads and parses a recording; a missing or malformed file is an Error naming the problem. */
export async function loadRecording(path: string): Promise<Recording> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new Error(`cannot read replay file ${path}: ${(e as Error).message}`);
  }
  const parsed = parseRecording(text);
  if (!parsed.ok) throw new Error(`replay file ${path} is invalid: ${parsed.error} (${parsed.detail ?? ''})`);
  return parsed.value;
}

/**
 * Delivers the entries in order. `speed` 1 keeps the recorded timing, 2 plays twice as fast, 0 as
 * fast as possible (yielding to the event loop between entries, so the gateway keeps up).
 */
export async function play(
  entries: readonly RecordingEntry[],
  speed: number,
  deliver: (data: Buffer) => void,
  signal: AbortSignal,
): Promise<void> {
  const start = performance.now();
  for (const e of entries) {
    if (signal.aborted) return;
    if (speed > 0) {
      const wait = start + e.t / speed - performance.now();
      if (wait > 0 && !(await sleep(wait, signal))) return;
    } else {
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (signal.aborted) return;
    }
    deliver(e.data);
  }
}
