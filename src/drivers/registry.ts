import type { DeviceConfig } from '../config/schema.js';
import type { Driver } from './contract.js';
import type { DeviceKind } from './kinds.js';

/** Transports per kind. Anything left out gets the real hardware binding, loaded lazily. */
export interface Transports {
  'serial-scanner'?: import('../../drivers/serial-scanner/transport.js').SerialTransport;
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
      transport: transports['serial-scanner'] ?? mod.nodeSerialTransport,
    };
  },
};

export function createDriver(config: DeviceConfig, transports: Transports): Promise<CreatedDriver> {
  const factory = FACTORIES[config.kind as DeviceKind];
  if (!factory) throw new Error(`no driver for kind ${config.kind}`);
  return factory(config, transports);
}
