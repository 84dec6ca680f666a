import { err, ok, type Result } from '../result.js';

/**
 * The record/replay file: JSON Lines. An optional first line `{"descriptor": "<hex>"}` (a HID
 * device's report descriptor), then one `{"t": <ms since start>, "hex": "<bytes>"}` per chunk as
 * the transport delivered it: a serial read, or one HID input report (report id first).
 */

export interface RecordingEntry {
  /** Milliseconds since the recording started. */
  t: number;
  data: Buffer;
}

export interface Recording {
  descriptor?: Buffer;
  entries: RecordingEntry[];
}

export type RecordingError = 'bad-json' | 'bad-line' | 'bad-hex' | 'bad-time';

const HEX = /^(?:[0-9a-fA-F]{2})*$/;

export const formatEntry = (t: number, data: Uint8Array): string =>
  `${JSON.stringify({ t, hex: Buffer.from(data).toString('hex') })}\n`;

export const formatDescriptor = (bytes: Uint8Array): string =>
  `${JSON.stringify({ descriptor: Buffer.from(bytes).toString('hex') })}\n`;

type LineResult = Result<{ descriptor: Buffer } | RecordingEntry, RecordingError>;

function parseLine(line: string): LineResult {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return err('bad-json');
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) return err('bad-line', 'not an object');
  const o = value as Record<string, unknown>;
  if (typeof o.descriptor === 'string') {
    if (!HEX.test(o.descriptor)) return err('bad-hex', 'descriptor');
    return ok({ descriptor: Buffer.from(o.descriptor, 'hex') });
  }
  if (typeof o.hex !== 'string') return err('bad-line', 'needs "hex" (or "descriptor")');
  if (!HEX.test(o.hex)) return err('bad-hex');
  if (typeof o.t !== 'number' || !Number.isFinite(o.t) || o.t < 0)
    return err('bad-time', '"t" must be ms ≥ 0');
  return ok({ t: o.t, data: Buffer.from(o.hex, 'hex') });
}

/** Parses a recording. Pure. Blank lines are ignored; the first bad line fails the whole file. */
export function parseRecording(text: string): Result<Recording, RecordingError> {
  const rec: Recording = { entries: [] };
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).trim();
    if (line === '') continue;
    const r = parseLine(line);
    if (!r.ok) return err(r.error, `line ${i + 1}${r.detail ? `: ${r.detail}` : ''}`);
    if ('descriptor' in r.value) rec.descriptor = r.value.descriptor;
    else rec.entries.push(r.value);
  }
  return ok(rec);
}
