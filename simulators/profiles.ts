import type { SimulatedScannerOptions } from './serial-scanner.js';
import { SimulatedSerialScanner } from './serial-scanner.js';
import { SimulatedSsiScanner } from './ssi-scanner.js';

/**
 * Vendor serial profiles: how a scanner out of the box (or after one setup barcode) puts barcodes
 * on the line, as simulator options, with the gateway device config that reads it.
 */
export interface SerialProfile {
  description: string;
  /** SimulatedSerialScanner options (without the link path); absent for SSI. */
  scanner?: Omit<SimulatedScannerOptions, 'linkPath'>;
  /** Keys for the gateway's serial-scanner device entry. */
  device: Record<string, unknown>;
}

export const SERIAL_PROFILES = {
  'zebra-default': {
    description:
      'Zebra/Symbol factory default: 9600 8-N-1, "data as is": no terminator, framed by the idle gap',
    scanner: { framing: { idleMs: 50 }, aim: false },
    device: { baudRate: 9600, framing: { idleMs: 50 }, aim: false },
  },
  'honeywell-crlf': {
    description: 'Honeywell RS-232 plug-and-play: 115200, CR LF suffix, AIM ids on',
    scanner: { framing: { suffix: '\r\n' }, aim: true },
    device: { baudRate: 115200, framing: { suffix: '\r\n' }, aim: true },
  },
  'olivetti-stx-etx': {
    description: 'Olivetti host mode: STX prefix, ETX suffix',
    scanner: { framing: { stx: true }, aim: false },
    device: { framing: { stx: true }, aim: false },
  },
  'zebra-ssi': {
    description: 'Zebra SSI: binary packets with code type, checksum and ACK/NAK',
    device: { baudRate: 9600, protocol: 'ssi' },
  },
} as const satisfies Record<string, SerialProfile>;

export type SerialProfileName = keyof typeof SERIAL_PROFILES;
export const SERIAL_PROFILE_NAMES = Object.keys(SERIAL_PROFILES) as SerialProfileName[];

/** A simulator for `profile` published at `linkPath` (not yet plugged). */
export function profileScanner(
  profile: SerialProfileName,
  linkPath: string,
): SimulatedSerialScanner | SimulatedSsiScanner {
  const p: SerialProfile = SERIAL_PROFILES[profile];
  if (!p.scanner) return new SimulatedSsiScanner({ linkPath });
  return new SimulatedSerialScanner({ linkPath, ...p.scanner });
}

/** The device entry for a scanner of `profile` at `path`. */
export function profileDevice(profile: SerialProfileName, id: string, path: string): Record<string, unknown> {
  return { id, kind: 'serial-scanner', path, ...SERIAL_PROFILES[profile].device };
}
