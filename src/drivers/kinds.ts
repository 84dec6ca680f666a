import type { TSchema } from '@sinclair/typebox';
import { BleBeaconsConfig } from '../../drivers/ble-beacons/config.js';
import { HidScannerConfig } from '../../drivers/hid-scanner/config.js';
import { SerialScannerConfig } from '../../drivers/serial-scanner/config.js';

/**
 * Config schema of every device kind. Only schemas live here, so validating a config never loads a
 * hardware library; the driver modules themselves are imported lazily by the registry.
 */
export const DEVICE_KINDS = {
  'serial-scanner': SerialScannerConfig,
  'hid-scanner': HidScannerConfig,
  'ble-beacons': BleBeaconsConfig,
} as const satisfies Record<string, TSchema>;

export type DeviceKind = keyof typeof DEVICE_KINDS;
export const DEVICE_KIND_NAMES = Object.keys(DEVICE_KINDS) as DeviceKind[];
