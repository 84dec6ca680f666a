import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { IClientPublishOptions, IPublishPacket } from 'mqtt';
import type { Config } from '../config/schema.js';
import type { Gateway } from '../gateway.js';
import type { Logger } from '../logger.js';
import type { GatewayModule } from '../modules.js';
import type { CommandContext, CommandTable } from './command.js';
import { applyConfig, reloadConfig } from './config-commands.js';
import { configVersionOf } from './config-file.js';
import { publishWhenConnected } from './connected.js';
import { deviceCommand, getStatus, listDevices, ping, rebirth, setLogLevel } from './gateway-commands.js';
import { CommandProcessor, type QueuedCommand, type ReplySink } from './processor.js';
import type { ReplyRoute } from './protocol.js';
import { CommandStore } from './store.js';

/** Every command, by the name in its topic (`…/commands/{name}`). */
export const COMMANDS: CommandTable = {
  ping,
  'get-status': getStatus,
  'list-devices': listDevices,
  'set-log-level': setLogLevel,
  rebirth,
  'reload-config': reloadConfig,
  'apply-config': applyConfig,
  'device-command': deviceCommand,
};

const PURGE_EVERY_MS = 60 * 60 * 1000;
const STOP_WAIT_MS = 5000;

/** Where the replies are kept: `commands.dbPath`, or commands.db beside the buffer. */
export function commandsDbPath(config: Config): string {
  return config.commands.dbPath ?? join(dirname(config.buffer.path), 'commands.db');
}

/**
 * Downlink commands: subscribes to `stores/{store}/gateways/{gateway}/commands/+` (QoS 1), runs
 * each command, and replies on the MQTT 5 response topic, the `replyTo` field, or
 * `…/replies/{name}` (docs/COMMANDS.md). Messages on other topics (offers) are left alone.
 */
export class CommandsModule implements GatewayModule {
  readonly name = 'commands';
  private gateway: Gateway | undefined;
  private log: Logger | undefined;
  private store: CommandStore | undefined;
  private processor: CommandProcessor | undefined;
  private purgeTimer: NodeJS.Timeout | undefined;
  private prefix = '';
  private configVersion: string | null = null;
  private stopped = false;

  constructor(
    private readonly config: Config,
    private readonly table: CommandTable = COMMANDS,
  ) {}

  private readonly onMessage = (topic: string, payload: Buffer, packet: IPublishPacket): void => {
    if (!topic.startsWith(this.prefix) || this.stopped) return;
    const props = packet.properties;
    this.processor?.receive({
      name: topic.slice(this.prefix.length),
      payload,
      props: props && {
        responseTopic: props.responseTopic,
        correlationData: props.correlationData,
        messageExpiryInterval: props.messageExpiryInterval,
      },
      retained: packet.retain,
      receivedAt: this.gateway?.clock.now() ?? Date.now(),
    });
  };

  start(gateway: Gateway): void {
    const log = gateway.log.child({ component: 'commands' });
    this.gateway = gateway;
    this.log = log;
    const store = new CommandStore(commandsDbPath(this.config), { log, now: () => gateway.clock.now() });
    this.store = store;
    this.configVersion = readVersion(gateway.supervisor?.configPath);
    const base = gateway.uplink.topics.base;
    this.prefix = `${base}/commands/`;
    this.processor = new CommandProcessor({
      base,
      table: this.table,
      store,
      settings: this.config.commands,
      log,
      clock: gateway.clock,
      sink: () => this.sink(),
      context: (id, restarting) => this.context(gateway, log, id, restarting),
      handOff: (entries) => this.handOff(entries),
      count: (command, outcome) => gateway.metrics.commands.inc({ command, outcome }),
    });
    gateway.uplink.on('message', this.onMessage);
    gateway.uplink.subscribe(`${this.prefix}+`, 1);
    this.purge();
    this.purgeTimer = setInterval(() => this.purge(), PURGE_EVERY_MS);
    this.purgeTimer.unref();
  }

  private context(gateway: Gateway, log: Logger, id: string, restarting: () => void): CommandContext {
    return {
      gateway,
      supervisor: gateway.supervisor,
      settings: this.config.commands,
      commandId: id,
      now: gateway.clock.now(),
      configVersion: this.configVersion,
      setConfigVersion: (version) => {
        this.configVersion = version;
      },
      log,
      restarting,
    };
  }

  private purge(): void {
    if (!this.store?.isOpen || !this.gateway) return;
    const purged = this.store.purge(this.gateway.clock.now() - this.config.commands.replayHours * 3_600_000);
    if (purged > 0) this.log?.debug({ purged }, 'old command replies purged');
  }

  /** This gateway's own store and uplink. */
  private ownSink(): ReplySink {
    const gateway = this.gateway as Gateway;
    return {
      save: (r) => this.store?.put(r),
      publish: (route, payload) =>
        publishWhenConnected(
          gateway.uplink,
          route.topic,
          payload,
          publishOptions(gateway.config, route),
          this.config.commands.confirmSec * 1000,
        ),
    };
  }

  /** The gateway that replaced this one after a restart, if any. */
  private successor(): Gateway | undefined {
    try {
      const next = this.gateway?.supervisor?.gateway;
      return next && next !== this.gateway ? next : undefined;
    } catch {
      return undefined; // between two gateways, or none could start
    }
  }

  /** After a restart (apply-config), the reply is kept and sent by the new gateway. */
  private sink(): ReplySink {
    const next = this.stopped ? this.successor() : undefined;
    if (!next) return this.ownSink();
    const successor = next.modules.find((m): m is CommandsModule => m instanceof CommandsModule);
    if (successor) return successor.ownSink();
    return {
      save: () => this.log?.warn('commands are off in the new config: this reply is not kept for replay'),
      publish: (route, payload) =>
        publishWhenConnected(
          next.uplink,
          route.topic,
          payload,
          publishOptions(next.config, route),
          this.config.commands.confirmSec * 1000,
        ),
    };
  }

  private handOff(entries: QueuedCommand[]): void {
    const next = this.successor();
    const successor = next?.modules.find((m): m is CommandsModule => m instanceof CommandsModule);
    if (successor?.processor) successor.processor.adopt(entries);
    else this.log?.warn({ commands: entries.length }, 'gateway stopped: queued commands not run');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.purgeTimer) clearInterval(this.purgeTimer);
    this.gateway?.uplink.off('message', this.onMessage);
    await this.processor?.stop(STOP_WAIT_MS);
    this.store?.close();
  }

  status(): unknown {
    return {
      ...this.processor?.stats,
      queued: this.processor?.queued ?? 0,
      storedReplies: this.store?.isOpen ? this.store.count : null,
      configVersion: this.configVersion,
    };
  }
}

function publishOptions(config: Config, route: ReplyRoute): IClientPublishOptions {
  if (config.mqtt.protocolVersion !== 5) return { qos: 1 };
  return {
    qos: 1,
    properties: {
      contentType: 'application/json',
      ...(route.correlationData ? { correlationData: route.correlationData } : {}),
    },
  };
}

function readVersion(path: string | undefined): string | null {
  if (!path) return null;
  try {
    return configVersionOf(readFileSync(path, 'utf8'));
  } catch {
    return null;
  }
}
