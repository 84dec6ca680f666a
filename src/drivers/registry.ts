import type { DeviceConfig } from '../config/schema.js';
import type { Driver } from './contract.js';
import type { DeviceKind } from './kinds.js';

/** Transports per kind. Anything left out gets the real hardware binding, loaded lazily. */
export interface Transports {
  'serial-scanner'?: import('../../drivers/serial-scanner/transport.js').SerialTransport;
  'hid-scanner'?: import('../../drivers/hid-scanner/transport.js').HidTransport;
  'ble-beacons'?: import('../../drivers/ble-beacons/transport.js').BleTransport;
}

export interface CreatedDriver {
  driver: Driver<DeviceConfig, unknown>;
  transport: unknown;
}

type Factory = (config: DeviceConfig, transports: Transports) => Promise<CreatedDriver>;

/** Driver modules are imported on first use, so a gateway without BLE never loads noble. */
const FACTORIES: Record<DeviceKind, Factory> = {
  'serial-scanner': async (config, transports) => {
    const mod = await import('../../drivers/serial-scanner/index.js');
    return {
      driver: new mod.SerialScannerDriver(config.id) as Driver<DeviceConfig, unknown>,
      transport: (await replayTransport(config)) ?? transports['serial-scanner'] ?? mod.nodeSerialTransport,
    };
  },
  'hid-scanner': async (config, transports) => {
    const mod = await import('../../drivers/hid-scanner/index.js');
    return {
      driver: new mod.HidScannerDriver(config.id) as Driver<DeviceConfig, unknown>,
      transport: (await replayTransport(config)) ?? transports['hid-scanner'] ?? mod.nodeHidTransport,
    };
  },
  // BLE replays its own line format (drivers/ble-beacons/recording.ts); the driver picks it from `replay`.
  'ble-beacons': async (config, transports) => {
    const mod = await import('../../drivers/ble-beacons/index.js');
    return {
      driver: new mod.BleBeaconsDriver(config.id) as Driver<DeviceConfig, unknown>,
      transport: transports['ble-beacons'] ?? mod.nobleHciTransport,
    };
  },
};

/** A device with `replay: FILE` reads a recording through the real driver instead of hardware. */
async function replayTransport(config: DeviceConfig): Promise<unknown> {
  const { replay, replaySpeed } = config as { replay?: string; replaySpeed?: number };
  if (!replay) return undefined;
  const mod = await import('../replay/index.js');
  const speed = replaySpeed ?? 1;
  return config.kind === 'hid-scanner'
    ? mod.replayHidTransport({ speed })
    : mod.replaySerialTransport({ speed });
}

export function createDriver(config: DeviceConfig, transports: Transports): Promise<CreatedDriver> {
  const factory = FACTORIES[config.kind as DeviceKind];
  if (!factory) throw new Error(`no driver for kind ${config.kind}`);
  return factory(config, transports);
}
