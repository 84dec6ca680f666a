import type { FastifyInstance } from 'fastify';
import type { Config } from './config/schema.js';
import type { Gateway } from './gateway.js';

/**
 * A feature of the gateway beyond the data path (presence engine, Wi-Fi receiver, POS ingest,
 * downlink commands, offers, live stream…). Modules start after the buffer is open and before the
 * devices, stop after the devices and before the uplink, and may add routes to the local API.
 */
export interface GatewayModule {
  readonly name: string;
  start(gateway: Gateway): Promise<void> | void;
  stop(): Promise<void> | void;
  /** Registers this module's routes on the local API (an encapsulated fastify plugin). */
  routes?(app: FastifyInstance): Promise<void> | void;
  /** Extra fields for /v1/status under this module's name. */
  status?(): unknown;
}

/**
 * Which modules a config asks for. Each entry returns null when its feature is not configured.
 * Modules are imported lazily so a gateway never loads what it does not use.
 */
const FACTORIES: ((config: Config) => Promise<GatewayModule | null>)[] = [
  async (c) => (c.stream?.enabled ? (await import('./stream/module.js')).createStreamModule(c) : null),
  async (c) => (c.offers?.enabled ? (await import('./offers/module.js')).createOffersModule(c) : null),
  async (c) => (c.pos?.enabled ? (await import('./pos/module.js')).createPosModule(c) : null),
  // Presence: BLE receivers, fixed beacons or the Meraki receiver; the module decides (null otherwise).
  async (c) =>
    c.devices.some((d) => d.kind === 'ble-beacons') || c.wifi?.meraki.enabled || c.registry?.beacons.length
      ? (await import('./presence/module.js')).createPresenceModule(c)
      : null,
  async (c) => (c.commands?.enabled ? new (await import('./downlink/module.js')).CommandsModule(c) : null),
  // After presence and offers: identity uses the presence key and the offers cache they provide.
  async (c) => (c.identity?.enabled ? (await import('./identity/module.js')).createIdentityModule(c) : null),
];

export async function createModules(config: Config): Promise<GatewayModule[]> {
  const modules = await Promise.all(FACTORIES.map((f) => f(config)));
  return modules.filter((m): m is GatewayModule => m !== null);
}
