import { connect, type MqttClient } from 'mqtt';
import { checkMessage } from '../../src/consumer/consumer.js';
import { Topics } from '../../src/uplink/topics.js';

/** One event as a group consumed it. */
export interface Consumed {
  /** `store/gateway`, from the event. */
  gateway: string;
  seq: number;
}

/** Everything one subscription group consumed, over all of its members. */
export class GroupTally {
  /** Unique events by id. */
  readonly ids = new Map<string, Consumed>();
  /** Per gateway (`store/gateway`): seq → id of the unique events. */
  readonly seqs = new Map<string, Map<number, string>>();
  /** Events per member (each event of a batch counts), by client id. */
  readonly perConsumer = new Map<string, number>();
  /** Event deliveries, redeliveries included. */
  deliveries = 0;
  /** Deliveries of an id seen before in this group (whichever member got it). */
  duplicates = 0;
  messages = 0;
  batches = 0;
  invalid = 0;
  /** Events whose topic names another store or gateway than the event does. */
  misrouted = 0;
  /** Two different ids with the same seq on one gateway. */
  seqConflicts = 0;
  /** The first few problems, for the report. */
  readonly problems: string[] = [];
  /** When this group last saw an event it had not seen before (ms since the epoch). */
  lastNewAt = 0;

  constructor(readonly name: string) {}

  private problem(text: string): void {
    if (this.problems.length < 10) this.problems.push(text);
  }

  onMessage(clientId: string, topic: string, payload: Buffer, contentType?: string): void {
    this.messages++;
    const { batch, events } = checkMessage(payload, contentType);
    if (batch) this.batches++;
    const parts = topic.split('/');
    for (const { event, issues } of events) {
      this.deliveries++;
      this.perConsumer.set(clientId, (this.perConsumer.get(clientId) ?? 0) + 1);
      if (issues.length > 0 || !event) {
        this.invalid++;
        this.problem(`invalid event on ${topic}: ${issues.map((i) => `${i.path} ${i.message}`).join('; ')}`);
        if (!event) continue;
      }
      if (event.storeid !== parts[1] || event.gatewayid !== parts[3]) {
        this.misrouted++;
        this.problem(`event of ${event.storeid}/${event.gatewayid} on ${topic}`);
      }
      if (this.ids.has(event.id)) {
        this.duplicates++;
        continue;
      }
      const gateway = `${event.storeid}/${event.gatewayid}`;
      this.ids.set(event.id, { gateway, seq: event.seq });
      this.lastNewAt = Date.now();
      let bySeq = this.seqs.get(gateway);
      if (!bySeq) {
        bySeq = new Map();
        this.seqs.set(gateway, bySeq);
      }
      const other = bySeq.get(event.seq);
      if (other !== undefined) {
        this.seqConflicts++;
        this.problem(`${gateway} seq ${event.seq} carried by ${other} and ${event.id}`);
      } else bySeq.set(event.seq, event.id);
    }
  }
}

/** The broker's `$SYS` counters as last published (Mosquitto, `sys_interval 1`). */
export interface BrokerCounters {
  publishReceived: number;
  publishSent: number;
  bytesReceived: number;
  bytesSent: number;
  clientsConnected: number;
}

const SYS: Record<string, keyof BrokerCounters> = {
  '$SYS/broker/publish/messages/received': 'publishReceived',
  '$SYS/broker/publish/messages/sent': 'publishSent',
  '$SYS/broker/bytes/received': 'bytesReceived',
  '$SYS/broker/bytes/sent': 'bytesSent',
  '$SYS/broker/clients/connected': 'clientsConnected',
};

function open(url: string, clientId: string, persistent: boolean): Promise<MqttClient> {
  const client = connect(url, {
    protocolVersion: 5,
    clientId,
    clean: !persistent,
    reconnectPeriod: 500,
    keepalive: 60,
    // A persistent session: a member that loses its connection gets its unacknowledged events again.
    ...(persistent ? { properties: { sessionExpiryInterval: 600 } } : {}),
  });
  return new Promise((resolve, reject) => {
    client.once('connect', () => resolve(client));
    client.once('error', (err) => {
      client.end(true);
      reject(err);
    });
  });
}

/**
 * The central side of a fleet run: `groups` subscription groups of `consumersPerGroup` members
 * each, every member subscribed to `$share/<group>/stores/+/gateways/+/events/#` (MQTT 5, QoS 1,
 * persistent session), so the broker hands each event to one member of each group. Every message
 * is unpacked (single event or CloudEvents batch), validated against the published schemas and
 * tallied per group. A monitor client reads the broker's `$SYS` counters and the retained gateway
 * state topics.
 */
export class Central {
  readonly groups: GroupTally[];
  /** The broker's counters as last published. */
  readonly counters: BrokerCounters = {
    publishReceived: 0,
    publishSent: 0,
    bytesReceived: 0,
    bytesSent: 0,
    clientsConnected: 0,
  };
  /**
   * Each change of the broker's received-PUBLISH counter with its arrival time (ms since the
   * epoch): Mosquitto publishes a `$SYS` value each interval only when it changed.
   */
  readonly receivedSeries: { at: number; value: number }[] = [];
  /** How many `$SYS` messages the monitor got (to wait for a fresh publication). */
  sysUpdates = 0;
  /** Last retained state per gateway (`store/gateway` → `online` | `offline`). */
  readonly states = new Map<string, string>();
  /** Messages the monitor itself received (the broker counts them as sent). */
  monitorMessages = 0;
  private readonly clients: MqttClient[] = [];

  private constructor(groupNames: string[]) {
    this.groups = groupNames.map((g) => new GroupTally(g));
  }

  static async start(
    url: string,
    opts: { groups: string[]; consumersPerGroup: number; runId: string },
  ): Promise<Central> {
    const central = new Central(opts.groups);
    try {
      await central.startMonitor(url, opts.runId);
      for (const group of central.groups) {
        for (let i = 1; i <= opts.consumersPerGroup; i++) {
          const clientId = `fleet-${opts.runId}-${group.name}-${i}`;
          const client = await open(url, clientId, true);
          central.clients.push(client);
          client.on('message', (topic, payload, packet) =>
            group.onMessage(clientId, topic, payload, packet.properties?.contentType),
          );
          const granted = await client.subscribeAsync(`$share/${group.name}/${Topics.eventsFilter()}`, {
            qos: 1,
          });
          if (granted.some((g) => g.qos > 1)) throw new Error(`subscription refused for ${clientId}`);
        }
      }
    } catch (err) {
      await central.stop();
      throw err;
    }
    return central;
  }

  private async startMonitor(url: string, runId: string): Promise<void> {
    const client = await open(url, `fleet-${runId}-monitor`, false);
    this.clients.push(client);
    client.on('message', (topic, payload) => {
      this.monitorMessages++;
      if (topic.startsWith('$SYS/')) {
        const key = SYS[topic];
        if (!key) return;
        this.sysUpdates++;
        this.counters[key] = Number(payload.toString());
        if (key === 'publishReceived')
          this.receivedSeries.push({ at: Date.now(), value: this.counters[key] });
        return;
      }
      const parts = topic.split('/');
      try {
        const state = JSON.parse(payload.toString()) as { state?: string };
        this.states.set(`${parts[1]}/${parts[3]}`, String(state.state));
      } catch {
        this.states.set(`${parts[1]}/${parts[3]}`, 'unparsable');
      }
    });
    await client.subscribeAsync([...Object.keys(SYS), Topics.stateFilter()], { qos: 0 });
  }

  /**
   * The counters once the broker has published them twice more (so they include everything up to
   * now, whatever the phase of its `$SYS` interval), or as they are after `timeoutMs`.
   */
  async freshCounters(timeoutMs = 5000): Promise<BrokerCounters> {
    const seen = this.sysUpdates;
    const deadline = Date.now() + timeoutMs;
    const start = Date.now();
    // Values change at most once per interval (1 s): wait past two intervals with at least one update.
    while (Date.now() < deadline && (Date.now() - start < 2100 || this.sysUpdates === seen))
      await new Promise((r) => setTimeout(r, 50));
    return { ...this.counters };
  }

  async stop(): Promise<void> {
    await Promise.allSettled(this.clients.map((c) => c.endAsync(true)));
  }
}
