import { readFileSync } from 'node:fs';
import { Outbox } from './buffer/outbox.js';
import { type Clock, systemClock } from './clock.js';
import type { Config, DeviceConfig } from './config/schema.js';
import type { GatewaySupervisor } from './downlink/supervisor.js';
import type { DeviceHealth, Driver, Emit } from './drivers/contract.js';
import { createDriver, type Transports } from './drivers/registry.js';
import { isGatewayError } from './errors.js';
import { EventFactory } from './events/envelope.js';
import type { Logger } from './logger.js';
import { Metrics } from './metrics.js';
import { createModules, type GatewayModule } from './modules.js';
import { VERSION } from './paths.js';
import {
  SCAN_CLASSIFIER_SERVICE,
  type ScanClassifier,
  type ScanPipeline,
  scanPipelineFor,
} from './pipeline/scan-enrich.js';
import { loadMqttTlsLogged } from './uplink/tls.js';
import { Uplink, type UplinkStatus } from './uplink/uplink.js';

export interface GatewayDeps {
  log: Logger;
  clock?: Clock;
  transports?: Transports;
  metrics?: Metrics;
  /** Free bytes on the buffer's file system (tests simulate a full disk with it). */
  freeDiskBytes?: (dir: string) => number;
  /** Modules beyond those the config asks for (tests, the demo's simulated services). */
  modules?: GatewayModule[];
  /** What owns this gateway's lifecycle (`run`); commands that change the config or log level use it. */
  supervisor?: GatewaySupervisor;
}

export interface GatewayStatus {
  version: string;
  store: string;
  gateway: string;
  bootId: string;
  state: 'created' | 'starting' | 'running' | 'stopping' | 'stopped';
  startedAt: string | null;
  uplink: UplinkStatus | null;
  buffer: ReturnType<Outbox['stats']> | null;
  devices: DeviceHealth[];
  modules: Record<string, unknown>;
}

interface Device {
  config: DeviceConfig;
  driver: Driver<DeviceConfig, unknown>;
  transport: unknown;
  abort: AbortController;
}

/**
 * The composition root of one gateway: config in, parts wired, no I/O until `start`.
 * Data path: drivers → emit (validate, envelope) → outbox (SQLite) → uplink (MQTT).
 */
export class Gateway {
  readonly config: Config;
  readonly log: Logger;
  readonly clock: Clock;
  readonly metrics: Metrics;
  readonly factory: EventFactory;
  private outboxRef: Outbox | undefined;
  private uplinkRef: Uplink | undefined;
  private devices: Device[] = [];
  private modulesList: GatewayModule[] = [];
  private readonly services = new Map<string, unknown>();
  private readonly scanPipelines = new Map<string, ScanPipeline>();
  private state: GatewayStatus['state'] = 'created';
  private startedAt: number | null = null;

  constructor(
    config: Config,
    private readonly deps: GatewayDeps,
  ) {
    this.config = config;
    this.log = deps.log;
    this.clock = deps.clock ?? systemClock;
    this.metrics = deps.metrics ?? new Metrics({ processMetrics: true });
    this.factory = new EventFactory({ storeId: config.store.id, gatewayId: config.gateway.id });
  }

  get bootId(): string {
    return this.factory.identity.bootId;
  }

  get outbox(): Outbox {
    if (!this.outboxRef) throw new Error('gateway not started');
    return this.outboxRef;
  }

  get uplink(): Uplink {
    if (!this.uplinkRef) throw new Error('gateway not started');
    return this.uplinkRef;
  }

  get supervisor(): GatewaySupervisor | undefined {
    return this.deps.supervisor;
  }

  get running(): boolean {
    return this.state === 'running';
  }

  /** Opens the buffer, starts every device, then connects the uplink; resolves when all devices have tried once. */
  async start(): Promise<void> {
    this.state = 'starting';
    const { config, log } = this;
    // Before anything opens: unusable TLS files stop the start with every problem listed.
    const tls = loadMqttTlsLogged(config.mqtt, log.child({ component: 'uplink' }));
    this.outboxRef = Outbox.open(
      { ...config.buffer },
      {
        log: log.child({ component: 'outbox' }),
        metrics: this.metrics,
        factory: this.factory,
        clock: this.clock,
        freeDiskBytes: this.deps.freeDiskBytes,
      },
    );
    const password = config.mqtt.passwordFile
      ? readFileSync(config.mqtt.passwordFile, 'utf8').trim()
      : undefined;
    this.uplinkRef = new Uplink(
      {
        mqtt: config.mqtt,
        storeId: config.store.id,
        gatewayId: config.gateway.id,
        bootId: this.bootId,
        version: VERSION,
        password,
        tls: tls?.options,
      },
      {
        outbox: this.outboxRef,
        log: log.child({ component: 'uplink' }),
        metrics: this.metrics,
        clock: this.clock,
        devices: () => this.config.devices.map((d) => ({ id: d.id, kind: d.kind })),
      },
    );
    this.modulesList = [...(await createModules(config)), ...(this.deps.modules ?? [])];
    for (const m of this.modulesList) {
      await m.start(this);
      log.debug({ module: m.name }, 'module started');
    }
    for (const config of this.config.devices) {
      const created = await createDriver(config, this.deps.transports ?? {});
      this.devices.push({ config, ...created, abort: new AbortController() });
    }
    // Devices open before the uplink starts draining a backlog, which would keep the loop busy.
    await Promise.all(this.devices.map((d) => this.startDevice(d)));
    this.uplinkRef.start();
    this.state = 'running';
    this.startedAt = this.clock.now();
    log.info(
      {
        store: config.store.id,
        gateway: config.gateway.id,
        devices: this.devices.length,
        bootId: this.bootId,
      },
      'gateway running',
    );
  }

  private startDevice(d: Device): Promise<void> {
    return d.driver.start({
      config: d.config,
      log: this.log.child({ component: 'driver', device: d.config.id, kind: d.config.kind }),
      clock: this.clock,
      metrics: this.metrics,
      signal: d.abort.signal,
      emit: this.emitFor(d.config.id),
      transport: d.transport,
      services: { get: <S>(name: string) => this.services.get(name) as S | undefined },
    });
  }

  /** The emit function handed to one device's driver: validate, build the envelope, offer to the outbox. */
  emitFor(deviceId: string): Emit {
    const existing = this.scanPipelines.get(deviceId);
    if (existing) return existing.emit;
    const emit: Emit = (type, data, timeMs) => {
      try {
        const ev = this.factory.create(type, deviceId, data, timeMs ?? this.clock.now());
        this.outbox.offer(ev);
      } catch (err) {
        const reason = isGatewayError(err) ? err.code : 'error';
        this.metrics.decodeErrors.inc({ device: deviceId, reason });
        this.log.error({ err, device: deviceId, type }, 'reading refused: event invalid');
      }
    };
    // Scans first pass the scan pipeline: GS1 interpretation, then duplicate suppression.
    const pipeline = scanPipelineFor(this.config, deviceId, emit, {
      clock: this.clock,
      log: this.log,
      // Looked up per scan, so a pipeline built before the classifying module (identity) started uses it.
      classifier: () => this.services.get(SCAN_CLASSIFIER_SERVICE) as ScanClassifier | undefined,
    });
    this.scanPipelines.set(deviceId, pipeline);
    return pipeline.emit;
  }

  /** What a module offered with `provide` (other modules look each other up with it). */
  service<S>(name: string): S | undefined {
    return this.services.get(name) as S | undefined;
  }

  /** Offers something to drivers (see `DriverContext.services`); modules call it in `start`. */
  provide(name: string, service: unknown): void {
    this.services.set(name, service);
  }

  /** The running feature modules (their routes join the local API). */
  get modules(): readonly GatewayModule[] {
    return this.modulesList;
  }

  /** Finds a running device's driver (for host commands). */
  driver(id: string): Driver<DeviceConfig, unknown> | undefined {
    return this.devices.find((d) => d.config.id === id)?.driver;
  }

  /**
   * Clean stop: stop intake (devices), commit what was read, finish in-flight publishes, publish
   * `offline`, close the buffer.
   */
  async stop(): Promise<void> {
    if (this.state === 'stopped' || this.state === 'stopping') return;
    this.state = 'stopping';
    for (const d of this.devices) d.abort.abort();
    await Promise.allSettled(this.devices.map((d) => d.driver.stop()));
    for (const p of this.scanPipelines.values()) p.flush();
    for (const m of [...this.modulesList].reverse()) {
      try {
        await m.stop();
      } catch (err) {
        this.log.error({ err, module: m.name }, 'module did not stop cleanly');
      }
    }
    this.outboxRef?.flush();
    await this.uplinkRef?.stop();
    this.outboxRef?.close();
    this.state = 'stopped';
    this.log.info('gateway stopped');
  }

  status(): GatewayStatus {
    return {
      version: VERSION,
      store: this.config.store.id,
      gateway: this.config.gateway.id,
      bootId: this.bootId,
      state: this.state,
      startedAt: this.startedAt === null ? null : new Date(this.startedAt).toISOString(),
      uplink: this.uplinkRef?.status() ?? null,
      buffer: this.outboxRef?.isOpen ? this.outboxRef.stats() : null,
      devices: this.devices.map((d) => d.driver.health()),
      modules: Object.fromEntries(
        this.modulesList.filter((m) => m.status).map((m) => [m.name, m.status?.()]),
      ),
    };
  }
}

export function buildGateway(config: Config, deps: GatewayDeps): Gateway {
  return new Gateway(config, deps);
}
