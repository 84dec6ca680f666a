import { randomBytes, randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { connectAsync, type IClientPublishOptions, type IPublishPacket, type MqttClient } from 'mqtt';

/*
 * A reference command client for central services (docs/COMMANDS.md): sends a command to one
 * gateway and waits for its reply. On MQTT 5 it uses a response topic and correlation data; on
 * MQTT 3.1.1 it listens on the gateway's reply topics and matches replies by command id.
 *
 *   node dist/simulators/central.js --url mqtt://broker:1883 --store 0421 --gateway gw-1 get-status
 *   node dist/simulators/central.js --url … --store 0421 --gateway gw-1 --mqtt-version 4 \
 *     set-log-level '{"level":"debug"}'
 */

export interface CommandReply {
  id: string | null;
  command: string;
  ok: boolean;
  time: string;
  result?: unknown;
  error?: { code: string; message: string; retryable: boolean; details?: unknown };
}

export interface ReceivedReply {
  topic: string;
  /** The payload as received (a replayed reply is byte-identical to the first). */
  raw: string;
  reply: CommandReply;
  correlationData?: Buffer;
  contentType?: string;
}

export interface CentralOptions {
  url: string;
  protocolVersion?: 4 | 5;
  store: string;
  gateway: string;
  clientId?: string;
}

export interface SendOptions {
  /** Command id; a fresh UUID when left out. Send the same id again to retry safely. */
  id?: string;
  args?: Record<string, unknown>;
  /** RFC 3339 time after which the gateway refuses the command. */
  expiresAt?: string;
  /** MQTT 5 message expiry (seconds): the broker drops the command if it cannot deliver it in time. */
  messageExpirySec?: number;
  /** Ask for the reply on this topic (the `replyTo` field; for MQTT 3.1.1 clients with a private inbox). */
  replyTo?: string;
  /**
   * How the reply comes back: `response-topic` (MQTT 5 response topic + correlation data, the
   * default on MQTT 5) or `reply-topic` (the gateway's `…/replies/{name}`, or `replyTo` if given).
   */
  route?: 'response-topic' | 'reply-topic';
  /** More fields for the request payload. */
  extra?: Record<string, unknown>;
  timeoutMs?: number;
}

export class CentralCommandClient {
  readonly replies: ReceivedReply[] = [];
  private readonly waiters = new Set<() => void>();
  readonly base: string;
  readonly inbox: string;

  private constructor(
    private readonly client: MqttClient,
    readonly opts: Required<Omit<CentralOptions, 'clientId'>> & { clientId: string },
  ) {
    this.base = `stores/${opts.store}/gateways/${opts.gateway}`;
    this.inbox = `central/${opts.clientId}/replies`;
    client.on('message', (topic, payload, packet) => this.onMessage(topic, payload, packet));
  }

  static async connect(opts: CentralOptions): Promise<CentralCommandClient> {
    const full = {
      ...opts,
      protocolVersion: opts.protocolVersion ?? 5,
      clientId: opts.clientId ?? `central-${randomUUID().slice(0, 8)}`,
    };
    const client = await connectAsync(opts.url, {
      protocolVersion: full.protocolVersion,
      clientId: full.clientId,
      clean: true,
      reconnectPeriod: 0,
      log: () => {},
    });
    const central = new CentralCommandClient(client, full);
    const filters = [`${central.base}/replies/+`];
    if (full.protocolVersion === 5) filters.push(central.inbox);
    await client.subscribeAsync(filters, { qos: 1 });
    return central;
  }

  /** Also listen on another topic (a `replyTo` inbox). */
  async listen(topic: string): Promise<void> {
    await this.client.subscribeAsync(topic, { qos: 1 });
  }

  private onMessage(topic: string, payload: Buffer, packet: IPublishPacket): void {
    let reply: CommandReply;
    try {
      reply = JSON.parse(payload.toString()) as CommandReply;
    } catch {
      return;
    }
    this.replies.push({
      topic,
      raw: payload.toString(),
      reply,
      correlationData: packet.properties?.correlationData,
      contentType: packet.properties?.contentType,
    });
    for (const wake of this.waiters) wake();
  }

  /** Publishes a raw command payload (no waiting), e.g. to test malformed ones. */
  async publish(
    name: string,
    payload: string | Buffer,
    options: IClientPublishOptions = { qos: 1 },
  ): Promise<void> {
    await this.client.publishAsync(`${this.base}/commands/${name}`, payload, options);
  }

  /** Sends a command and resolves with its reply. */
  async send(name: string, o: SendOptions = {}): Promise<CommandReply> {
    return (await this.sendAndReceive(name, o)).reply;
  }

  /** Sends a command and resolves with the reply and how it arrived (topic, correlation data). */
  async sendAndReceive(name: string, o: SendOptions = {}): Promise<ReceivedReply> {
    const id = o.id ?? randomUUID();
    const v5 = this.opts.protocolVersion === 5;
    const useResponseTopic = v5 && (o.route ?? 'response-topic') === 'response-topic';
    const correlationData = useResponseTopic ? randomBytes(16) : undefined;
    const payload = JSON.stringify({
      id,
      ...(o.args ? { args: o.args } : {}),
      ...(o.expiresAt ? { expiresAt: o.expiresAt } : {}),
      ...(o.replyTo ? { replyTo: o.replyTo } : {}),
      ...o.extra,
    });
    const properties: IClientPublishOptions['properties'] = {
      ...(useResponseTopic ? { responseTopic: this.inbox, correlationData } : {}),
      ...(v5 && o.messageExpirySec !== undefined ? { messageExpiryInterval: o.messageExpirySec } : {}),
      ...(v5 ? { contentType: 'application/json' } : {}),
    };
    const from = this.replies.length;
    const match = (r: ReceivedReply) =>
      correlationData
        ? r.correlationData?.equals(correlationData) === true
        : r.reply.id === id && r.reply.command === name;
    const waiting = this.waitFrom(from, match, o.timeoutMs ?? 20_000, `reply to ${name} ${id}`);
    await this.publish(name, payload, { qos: 1, ...(v5 ? { properties } : {}) });
    return waiting;
  }

  /** Waits for a reply received at or after index `from` that matches. */
  waitFrom(
    from: number,
    match: (r: ReceivedReply) => boolean,
    timeoutMs: number,
    what = 'a reply',
  ): Promise<ReceivedReply> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.replies.slice(from).find(match);
        if (!found) return;
        done();
        resolve(found);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  async close(): Promise<void> {
    await this.client.endAsync();
  }
}

async function main(argv: string[]): Promise<number> {
  const flags = new Map<string, string>();
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a.startsWith('--')) flags.set(a.slice(2), argv[++i] ?? '');
    else rest.push(a);
  }
  const [name, argsJson] = rest;
  const url = flags.get('url');
  const store = flags.get('store');
  const gateway = flags.get('gateway');
  if (!name || !url || !store || !gateway) {
    process.stderr.write(
      'usage: central --url URL --store ID --gateway ID [--mqtt-version 4|5] [--id ID] COMMAND [ARGS-JSON]\n',
    );
    return 64;
  }
  const central = await CentralCommandClient.connect({
    url,
    store,
    gateway,
    protocolVersion: flags.get('mqtt-version') === '4' ? 4 : 5,
  });
  try {
    const reply = await central.send(name, {
      id: flags.get('id'),
      args: argsJson ? (JSON.parse(argsJson) as Record<string, unknown>) : undefined,
    });
    process.stdout.write(`${JSON.stringify(reply, null, 2)}\n`);
    return reply.ok ? 0 : 1;
  } finally {
    await central.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`${(err as Error).message}\n`);
      process.exitCode = 1;
    },
  );
}
