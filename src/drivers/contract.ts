import type { Clock } from '../clock.js';
import type { EventData, EventType } from '../events/catalog.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';

/** Hands a reading on to the pipeline, which builds, validates and buffers the event. Never throws. */
export type Emit = <T extends EventType>(type: T, data: EventData<T>, timeMs?: number) => void;

/** Everything a driver may use; one object, so adding a capability never changes a signature. */
export interface DriverContext<C, T> {
  config: C;
  log: Logger;
  clock: Clock;
  metrics: Metrics;
  /** Aborted when the driver must stop. */
  signal: AbortSignal;
  emit: Emit;
  /** The hardware binding: the real one in production, a simulator in tests and demo mode. */
  transport: T;
  /** What the gateway's modules provide to drivers (e.g. the presence engine's BLE sink). */
  services?: ServiceLookup;
}

/** Modules start before devices; what they `provide` is there when a driver starts. */
export interface ServiceLookup {
  get<S>(name: string): S | undefined;
}

export type DeviceState = 'starting' | 'connected' | 'disconnected' | 'unavailable' | 'stopped';

export interface DeviceHealth {
  id: string;
  kind: string;
  state: DeviceState;
  path?: string;
  since: string;
  readings: number;
  decodeErrors: number;
  reopens: number;
  lastReadingAt?: string;
  lastError?: string;
}

/**
 * One device. `start` returns once the first open attempt has been made (whatever its outcome: a
 * missing device is retried in the background); `stop` closes the device and ends all retries.
 */
export interface Driver<C = unknown, T = unknown> {
  readonly kind: string;
  readonly id: string;
  start(ctx: DriverContext<C, T>): Promise<void>;
  stop(): Promise<void>;
  health(): DeviceHealth;
}
