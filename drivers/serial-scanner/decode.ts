import { splitAim } from '../../src/barcode/aim.js';
import { err, ok, type Result } from '../../src/result.js';

export interface ScanReading {
  text: string;
  aim?: string;
  symbology: string;
}

export type ScanDecodeError = 'missing-aim' | 'empty';

// ignoreBOM keeps a leading U+FEFF: every byte the scanner sent stays in the text.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Bytes as text: UTF-8 when valid (QR codes), otherwise Latin-1 so every byte survives. */
function text(bytes: Buffer): string {
  try {
    return utf8.decode(bytes);
  } catch {
    return bytes.toString('latin1');
  }
}

/** Decodes one framed barcode. Pure. With `aim`, the frame must start with an AIM identifier. */
export function decodeScan(frame: Buffer, opts: { aim: boolean }): Result<ScanReading, ScanDecodeError> {
  const raw = text(frame);
  if (!opts.aim) return raw.length === 0 ? err('empty') : ok({ text: raw, symbology: 'unknown' });
  const split = splitAim(raw);
  if (!split) return err('missing-aim', JSON.stringify(raw.slice(0, 3)));
  if (split.rest.length === 0) return err('empty');
  return ok({ text: split.rest, aim: split.info.aim, symbology: split.info.symbology });
}
