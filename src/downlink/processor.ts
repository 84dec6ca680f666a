import type { Clock } from '../clock.js';
import type { Config } from '../config/schema.js';
import type { ErrorCode } from '../errors.js';
import type { Logger } from '../logger.js';
import type { SchemaIssue } from '../schema/ajv.js';
import type { CommandContext, CommandTable } from './command.js';
import {
  argsValidator,
  type CommandRequest,
  deadlineOf,
  looseReplyTo,
  parseRequest,
  type Reply,
  type ReplyError,
  type ReplyRoute,
  replyError,
  replyRoute,
  toReplyError,
} from './protocol.js';
import type { CommandStore, StoredReply } from './store.js';

/** One command message as the uplink delivered it. */
export interface IncomingCommand {
  name: string;
  payload: Buffer;
  /** MQTT 5 properties of the request (absent on MQTT 3.1.1). */
  props?: { responseTopic?: string; correlationData?: Buffer; messageExpiryInterval?: number };
  /** The broker delivered a retained message: an old command, not one sent now. */
  retained?: boolean;
  receivedAt: number;
}

/** Where a reply is kept and sent: this gateway's, or after a restart the new gateway's. */
export interface ReplySink {
  save(reply: StoredReply): void;
  publish(route: ReplyRoute, payload: string): Promise<void>;
}

export interface ProcessorDeps {
  /** Topic base of this gateway, `stores/{store}/gateways/{gateway}`. */
  base: string;
  table: CommandTable;
  store: CommandStore;
  settings: Config['commands'];
  log: Logger;
  clock: Clock;
  sink(): ReplySink;
  context(commandId: string, restarting: () => void): CommandContext;
  /** Commands still queued when this processor stopped (a restart): the next gateway runs them. */
  handOff?(entries: QueuedCommand[]): void;
  count?(command: string, outcome: string): void;
}

export interface QueuedCommand {
  name: string;
  request: CommandRequest;
  route: ReplyRoute;
  deadline: number | null;
  receivedAt: number;
}

type Outcome = { ok: true; result: unknown } | { ok: false; error: ReplyError };

const fail = (code: ErrorCode, message?: string, details?: unknown): Outcome => ({
  ok: false,
  error: replyError(code, message, details),
});

/**
 * Runs commands one at a time, in the order they arrive. A command id with a stored reply gets
 * that reply again and is not run; an expired, unknown or malformed command gets an error reply;
 * every reply except a retryable error is stored for replay. Each command and its outcome is
 * logged, never its args (they may hold a config).
 */
export class CommandProcessor {
  private queue: QueuedCommand[] = [];
  private draining: Promise<void> | undefined;
  private current: { restarting: boolean } | undefined;
  private stopped = false;
  private readonly validators: Record<string, (args: unknown) => SchemaIssue[]>;
  readonly stats = { received: 0, executed: 0, replayed: 0, refused: 0 };

  constructor(private readonly deps: ProcessorDeps) {
    this.validators = Object.fromEntries(
      Object.entries(deps.table).map(([name, def]) => [name, argsValidator(def.args)]),
    );
  }

  get queued(): number {
    return this.queue.length;
  }

  receive(msg: IncomingCommand): void {
    const { log, base } = this.deps;
    this.stats.received++;
    const parsed = parseRequest(msg.payload);
    if (!parsed.ok) {
      const route = replyRoute(base, msg.name, msg.props, looseReplyTo(msg.payload));
      log.warn({ command: msg.name, id: parsed.id, via: route.via }, 'command received: malformed');
      const outcome = fail('GW_ERR_COMMAND_INVALID', issuesMessage(parsed.issues), { issues: parsed.issues });
      void this.finish(msg.name, parsed.id, route, outcome, msg.receivedAt, false);
      return;
    }
    const { request } = parsed;
    const route = replyRoute(base, msg.name, msg.props, request.replyTo);
    log.info({ command: msg.name, id: request.id, via: route.via }, 'command received');
    if (msg.retained) {
      const outcome = fail(
        'GW_ERR_COMMAND_INVALID',
        'a retained command is never run: publish commands without retain',
      );
      void this.finish(msg.name, request.id, route, outcome, msg.receivedAt, true);
      return;
    }
    if (this.queue.length >= this.deps.settings.maxQueued) {
      const outcome = fail(
        'GW_ERR_COMMAND_BUSY',
        `${this.queue.length} commands are waiting; send it again later`,
      );
      void this.finish(msg.name, request.id, route, outcome, msg.receivedAt, false);
      return;
    }
    const deadline = deadlineOf(request, msg.props?.messageExpiryInterval, msg.receivedAt);
    this.adopt([{ name: msg.name, request, route, deadline, receivedAt: msg.receivedAt }]);
  }

  /** Queues commands (from the network, or handed over by the gateway this one replaced). */
  adopt(entries: QueuedCommand[]): void {
    this.queue.push(...entries);
    if (!this.draining) this.draining = this.drain();
  }

  private async drain(): Promise<void> {
    while (!this.stopped) {
      const entry = this.queue.shift();
      if (!entry) break;
      try {
        await this.execute(entry);
      } catch (err) {
        this.deps.log.error({ err, command: entry.name, id: entry.request.id }, 'command processing failed');
      }
    }
    this.draining = undefined;
    if (this.stopped && this.queue.length > 0) {
      const left = this.queue.splice(0);
      if (this.deps.handOff) this.deps.handOff(left);
      else this.deps.log.warn({ commands: left.length }, 'gateway stopped: queued commands not run');
    }
  }

  private async execute(e: QueuedCommand): Promise<void> {
    const { store, clock, settings, log, table } = this.deps;
    const { id } = e.request;
    const now = clock.now();
    const stored = store.get(id, now - settings.replayHours * 3_600_000);
    if (stored) {
      if (stored.name !== e.name) {
        const outcome = fail(
          'GW_ERR_COMMAND_ID_REUSED',
          `command id "${id}" was already used by ${stored.name}`,
        );
        return this.finish(e.name, id, e.route, outcome, now, false);
      }
      this.stats.replayed++;
      this.deps.count?.(e.name, 'replayed');
      log.info(
        { command: e.name, id, ok: stored.ok, replayed: true },
        'command already done: stored reply sent',
      );
      return this.send(e.route, stored.reply, e.name, id);
    }
    if (e.deadline !== null && now >= e.deadline) {
      const at = new Date(e.deadline).toISOString();
      return this.finish(e.name, id, e.route, fail('GW_ERR_COMMAND_EXPIRED', `expired at ${at}`), now, true);
    }
    const def = table[e.name];
    const validate = this.validators[e.name];
    if (!def || !validate) {
      const outcome = fail('GW_ERR_COMMAND_UNKNOWN', `no command "${e.name}"`, {
        commands: Object.keys(table),
      });
      return this.finish(e.name, id, e.route, outcome, now, true);
    }
    const args = e.request.args ?? {};
    const issues = validate(args);
    if (issues.length > 0) {
      const outcome = fail('GW_ERR_COMMAND_INVALID', issuesMessage(issues), { issues });
      return this.finish(e.name, id, e.route, outcome, now, true);
    }
    const current = { restarting: false };
    this.current = current;
    let outcome: Outcome;
    try {
      this.stats.executed++;
      const ctx = this.deps.context(id, () => {
        current.restarting = true;
      });
      outcome = { ok: true, result: (await def.run(ctx, args as never)) ?? null };
    } catch (err) {
      outcome = { ok: false, error: toReplyError(err) };
    } finally {
      this.current = undefined;
    }
    return this.finish(e.name, id, e.route, outcome, now, true);
  }

  /** Builds the reply, stores it (unless it is a retryable error), logs the outcome and sends it. */
  private async finish(
    name: string,
    id: string | null,
    route: ReplyRoute,
    outcome: Outcome,
    startedAt: number,
    keep: boolean,
  ): Promise<void> {
    const { clock, log } = this.deps;
    const now = clock.now();
    const time = new Date(now).toISOString();
    let payload: string;
    try {
      payload = JSON.stringify({ id, command: name, time, ...outcome } satisfies Reply);
    } catch (err) {
      outcome = fail('GW_ERR_COMMAND_FAILED', `the result cannot be sent: ${(err as Error).message}`);
      payload = JSON.stringify({ id, command: name, time, ...outcome } satisfies Reply);
    }
    const sink = this.deps.sink();
    if (keep && id !== null && (outcome.ok || !outcome.error.retryable)) {
      try {
        sink.save({ id, name, at: startedAt, ok: outcome.ok, reply: payload });
      } catch (err) {
        log.error({ err, command: name, id }, 'command reply not stored: a repeat would run it again');
      }
    }
    const known = this.deps.table[name] !== undefined;
    const fields = { command: name, id, ok: outcome.ok, ms: now - startedAt, via: route.via };
    if (outcome.ok) log.info(fields, 'command done');
    else {
      this.stats.refused++;
      log.warn({ ...fields, code: outcome.error.code, reason: outcome.error.message }, 'command failed');
    }
    this.deps.count?.(known ? name : 'unknown', outcome.ok ? 'ok' : outcome.error.code);
    await this.send(route, payload, name, id, sink);
  }

  private async send(
    route: ReplyRoute,
    payload: string,
    name: string,
    id: string | null,
    sink = this.deps.sink(),
  ): Promise<void> {
    try {
      await sink.publish(route, payload);
    } catch (err) {
      this.deps.log.warn(
        { err: { message: (err as Error).message }, command: name, id, topic: route.topic },
        'command reply not delivered; a repeat of the command gets it',
      );
    }
  }

  /**
   * Stops taking commands from the queue. Waits (up to `timeoutMs`) for the one running, unless it
   * is the one restarting the gateway: that one finishes on the next gateway.
   */
  async stop(timeoutMs: number): Promise<void> {
    this.stopped = true;
    const running = this.draining;
    if (!running || this.current?.restarting) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([running, new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
  }
}

function issuesMessage(issues: SchemaIssue[]): string {
  return issues.map((i) => `${i.path}: ${i.message}`).join('; ');
}
