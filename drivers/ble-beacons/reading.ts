import type { BleAddressKind, Pseudonym, SubjectNamespace } from '../../src/privacy/index.js';
import type { BeaconFrame, FrameError } from './frames.js';

/**
 * One advertisement as the driver hands it on: the address already pseudonymized, the beacon frame
 * parsed. Nothing in it can be turned back into the device address.
 */
export interface BleReading {
  /** The receiving device (driver id). */
  receiver: string;
  /** The receiver's zone. */
  zone: string;
  time: number;
  /** RSSI with the receiver's offset applied, dBm. */
  rssi: number;
  /** The advertiser's address, pseudonymized (namespace "ble"). */
  address: Pseudonym;
  addressKind: BleAddressKind;
  /** A private (rotating) address. */
  randomized: boolean;
  frame?: BeaconFrame;
  /** Why no frame: 'no-beacon' for any non-beacon device. */
  frameError?: FrameError;
  /** The path-loss exponent configured for this receiver, if any. */
  pathLossExponent?: number;
  /** The receiver's `unmatched` policy. */
  unmatched: 'count' | 'track';
}

/**
 * Where a BLE driver sends its readings: the presence engine. The sink also lends its
 * pseudonymizer, so a raw address is hashed inside the function that receives it from noble.
 */
/** The name under which the presence module provides its `BleSink` to the BLE drivers. */
export const BLE_SINK_SERVICE = 'presence.ble-sink';

export interface BleSink {
  readonly ignoreRandomized: boolean;
  pseudonymize(namespace: SubjectNamespace, value: string, nowMs: number): Pseudonym;
  reading(r: BleReading): void;
}
