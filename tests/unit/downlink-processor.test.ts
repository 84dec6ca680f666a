import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { type CommandContext, type CommandTable, defineCommand } from '../../src/downlink/command.js';
import { CommandProcessor, type IncomingCommand } from '../../src/downlink/processor.js';
import type { ReplyRoute } from '../../src/downlink/protocol.js';
import { CommandStore } from '../../src/downlink/store.js';
import { GatewayError } from '../../src/errors.js';
import { silentLogger } from '../../src/logger.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const BASE = 'stores/0421/gateways/gw-1';
const T0 = Date.parse('2026-11-24T08:00:00.000Z');

interface Sent {
  route: ReplyRoute;
  payload: string;
  reply: {
    id: string | null;
    command: string;
    ok: boolean;
    result?: unknown;
    error?: { code: string; message: string; retryable: boolean; details?: Record<string, unknown> };
  };
}

function settings(over: Partial<Config['commands']> = {}): Config['commands'] {
  const checked = validateConfig({ store: { id: 's' }, gateway: { id: 'g' } });
  if (!checked.ok) throw new Error('base config invalid');
  return { ...checked.config.commands, ...over };
}

/** A processor with a small command table whose side effects the tests can count. */
function harness(dbPath: string, over: Partial<Config['commands']> = {}) {
  let now = T0;
  const runs: Record<string, number> = {};
  const sent: Sent[] = [];
  const counted: string[] = [];
  let release: (() => void) | undefined;
  let flaky = true;
  const bump = (name: string) => {
    runs[name] = (runs[name] ?? 0) + 1;
  };
  const table: CommandTable = {
    count: defineCommand({
      description: 'counts',
      args: Type.Object({ by: Type.Optional(Type.Integer({ minimum: 1 })) }, { additionalProperties: false }),
      run: (_ctx, args) => {
        bump('count');
        return { by: args.by ?? 1, runs: runs.count };
      },
    }),
    // Holds the queue until released, and lets the clock move on meanwhile.
    slow: defineCommand({
      description: 'waits',
      args: Type.Object({ advanceMs: Type.Integer() }),
      run: async (_ctx, args) => {
        bump('slow');
        await new Promise<void>((r) => {
          release = r;
        });
        now += args.advanceMs;
        return { done: true };
      },
    }),
    flaky: defineCommand({
      description: 'fails once, retryably',
      args: Type.Object({}),
      run: () => {
        bump('flaky');
        if (flaky) {
          flaky = false;
          throw new GatewayError('GW_ERR_DEVICE_COMMAND_FAILED', 'device busy');
        }
        return { fine: true };
      },
    }),
    broken: defineCommand({
      description: 'throws a plain error',
      args: Type.Object({}),
      run: () => {
        bump('broken');
        throw new Error('boom');
      },
    }),
  };
  const store = new CommandStore(dbPath, { log: silentLogger(), now: () => now });
  const processor = new CommandProcessor({
    base: BASE,
    table,
    store,
    settings: settings(over),
    log: silentLogger(),
    clock: { now: () => now },
    sink: () => ({
      save: (r) => store.put(r),
      publish: async (route, payload) => {
        sent.push({ route, payload, reply: JSON.parse(payload) as Sent['reply'] });
      },
    }),
    context: (commandId, restarting) =>
      ({ commandId, now, restarting, settings: settings(over) }) as unknown as CommandContext,
    count: (command, outcome) => counted.push(`${command}:${outcome}`),
  });
  const receive = (name: string, body: unknown, extra: Partial<IncomingCommand> = {}) =>
    processor.receive({
      name,
      payload: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
      receivedAt: now,
      ...extra,
    });
  const replies = async (n: number) => {
    await waitFor(() => sent.length >= n, `${n} replies`, 5000, 1);
    return sent;
  };
  return {
    processor,
    store,
    runs,
    sent,
    counted,
    receive,
    replies,
    advance: (ms: number) => {
      now += ms;
    },
    release: () => release?.(),
  };
}

describe('command processor', () => {
  let dir: ReturnType<typeof tmpDir>;
  let h: ReturnType<typeof harness>;
  beforeEach(() => {
    dir = tmpDir();
    h = harness(join(dir.path, 'commands.db'));
  });
  afterEach(() => {
    h.store.close();
    dir.cleanup();
  });

  it('runs a command and replies on the reply topic with id, command, ok and result', async () => {
    h.receive('count', { id: 'c-1', args: { by: 3 } });
    const [first] = await h.replies(1);
    expect(first?.route).toEqual({ topic: `${BASE}/replies/count`, via: 'reply-topic' });
    expect(first?.reply).toMatchObject({ id: 'c-1', command: 'count', ok: true, result: { by: 3, runs: 1 } });
    expect(h.counted).toEqual(['count:ok']);
  });

  it('replies on the MQTT 5 response topic with the correlation data, before a replyTo field', async () => {
    const correlationData = Buffer.from([1, 2, 3]);
    h.receive(
      'count',
      { id: 'c-2', replyTo: 'central/inbox' },
      { props: { responseTopic: 'r/t', correlationData } },
    );
    h.receive('count', { id: 'c-3', replyTo: 'central/inbox' });
    const sent = await h.replies(2);
    expect(sent[0]?.route).toEqual({ topic: 'r/t', correlationData, via: 'response-topic' });
    expect(sent[1]?.route).toEqual({ topic: 'central/inbox', via: 'reply-to' });
  });

  it('returns the stored reply for a command id seen before, byte for byte, without running it again', async () => {
    h.receive('count', { id: 'same' });
    await h.replies(1);
    h.advance(60_000);
    h.receive('count', { id: 'same', args: { by: 9 } });
    const sent = await h.replies(2);
    expect(sent[1]?.payload).toBe(sent[0]?.payload);
    expect(h.runs.count).toBe(1);
    expect(h.processor.stats).toMatchObject({ executed: 1, replayed: 1 });
    expect(h.counted).toEqual(['count:ok', 'count:replayed']);
  });

  it('runs a command id again once its reply is older than commands.replayHours', async () => {
    h.receive('count', { id: 'old' });
    await h.replies(1);
    h.advance(24 * 3_600_000 + 1);
    h.receive('count', { id: 'old' });
    const sent = await h.replies(2);
    expect(sent[1]?.reply.result).toEqual({ by: 1, runs: 2 });
    expect(h.store.purge(T0 + 1)).toBe(0); // the first row was replaced by the second run
  });

  it('refuses a command id reused by another command', async () => {
    h.receive('count', { id: 'dup' });
    h.receive('flaky', { id: 'dup' });
    const sent = await h.replies(2);
    expect(sent[1]?.reply.error?.code).toBe('GW_ERR_COMMAND_ID_REUSED');
    expect(h.runs.flaky).toBeUndefined();
  });

  it('refuses a command whose expiresAt has passed, and keeps that answer for the id', async () => {
    h.receive('count', { id: 'late', expiresAt: new Date(T0 - 1).toISOString() });
    h.receive('count', { id: 'late' });
    const sent = await h.replies(2);
    expect(sent[0]?.reply).toMatchObject({
      id: 'late',
      ok: false,
      error: { code: 'GW_ERR_COMMAND_EXPIRED' },
    });
    expect(sent[1]?.payload).toBe(sent[0]?.payload);
    expect(h.runs.count).toBeUndefined();
  });

  it('counts MQTT 5 message expiry from delivery: a command that waited in the queue too long is refused', async () => {
    h.receive('slow', { id: 's', args: { advanceMs: 2000 } });
    h.receive('count', { id: 'short' }, { props: { messageExpiryInterval: 1 } });
    h.receive('count', { id: 'long' }, { props: { messageExpiryInterval: 10 } });
    await waitFor(() => h.runs.slow === 1, 'slow command running', 5000, 1);
    h.release();
    const sent = await h.replies(3);
    expect(sent.map((s) => [s.reply.id, s.reply.ok, s.reply.error?.code])).toEqual([
      ['s', true, undefined],
      ['short', false, 'GW_ERR_COMMAND_EXPIRED'],
      ['long', true, undefined],
    ]);
    expect(h.runs.count).toBe(1);
  });

  it('answers an unknown command with the list of known ones', async () => {
    h.receive('reboot-everything', { id: 'u-1' });
    const [first] = await h.replies(1);
    expect(first?.route.topic).toBe(`${BASE}/replies/reboot-everything`);
    expect(first?.reply.error?.code).toBe('GW_ERR_COMMAND_UNKNOWN');
    expect(first?.reply.error?.details?.commands).toEqual(['count', 'slow', 'flaky', 'broken']);
    expect(h.counted).toEqual(['unknown:GW_ERR_COMMAND_UNKNOWN']);
  });

  it('refuses malformed payloads and bad args with every failing path', async () => {
    h.receive('count', 'not json');
    h.receive('count', { id: 7, expiresAt: 'tomorrow' });
    h.receive('count', { id: 'a-1', args: { by: 0, extra: true } });
    const sent = await h.replies(3);
    expect(sent[0]?.reply).toMatchObject({ id: null, ok: false, error: { code: 'GW_ERR_COMMAND_INVALID' } });
    const paths = (i: number) =>
      ((sent[i]?.reply.error?.details?.issues ?? []) as { path: string }[]).map((x) => x.path).sort();
    expect(paths(1)).toEqual(['/expiresAt', '/id']);
    expect(sent[2]?.reply.id).toBe('a-1');
    expect(paths(2)).toEqual(['/args', '/args/by']);
    expect(h.runs.count).toBeUndefined();
  });

  it('does not keep a retryable error: the same id runs again', async () => {
    h.receive('flaky', { id: 'f-1' });
    h.receive('flaky', { id: 'f-1' });
    h.receive('flaky', { id: 'f-1' });
    const sent = await h.replies(3);
    expect(sent[0]?.reply.error).toMatchObject({ code: 'GW_ERR_DEVICE_COMMAND_FAILED', retryable: true });
    expect(sent[1]?.reply).toMatchObject({ ok: true, result: { fine: true } });
    expect(sent[2]?.payload).toBe(sent[1]?.payload);
    expect(h.runs.flaky).toBe(2);
  });

  it('reports an unexpected error as GW_ERR_COMMAND_FAILED', async () => {
    h.receive('broken', { id: 'b-1' });
    const [first] = await h.replies(1);
    expect(first?.reply.error).toEqual({ code: 'GW_ERR_COMMAND_FAILED', message: 'boom', retryable: false });
  });

  it('never runs a retained command', async () => {
    h.receive('count', { id: 'r-1' }, { retained: true });
    const [first] = await h.replies(1);
    expect(first?.reply.error?.code).toBe('GW_ERR_COMMAND_INVALID');
    expect(h.runs.count).toBeUndefined();
  });

  it('refuses commands beyond commands.maxQueued as busy (retryable)', async () => {
    h.store.close();
    dir.cleanup();
    dir = tmpDir();
    h = harness(join(dir.path, 'commands.db'), { maxQueued: 1 });
    h.receive('slow', { id: 'hold', args: { advanceMs: 0 } });
    await waitFor(() => h.runs.slow === 1, 'slow command running', 5000, 1);
    h.receive('count', { id: 'q-1' });
    h.receive('count', { id: 'q-2' });
    const [busy] = await h.replies(1);
    expect(busy?.reply).toMatchObject({ id: 'q-2', error: { code: 'GW_ERR_COMMAND_BUSY', retryable: true } });
    h.release();
    const sent = await h.replies(3);
    expect(sent.map((s) => s.reply.id)).toEqual(['q-2', 'hold', 'q-1']);
  });

  it('keeps replies across a reopen of the store file', async () => {
    h.receive('count', { id: 'persist' });
    await h.replies(1);
    h.store.close();
    const reopened = new CommandStore(join(dir.path, 'commands.db'), { log: silentLogger(), now: () => T0 });
    try {
      expect(reopened.get('persist', 0)).toMatchObject({ id: 'persist', name: 'count', ok: true });
      expect(reopened.purge(T0 + 1)).toBe(1);
      expect(reopened.get('persist', 0)).toBeUndefined();
    } finally {
      reopened.close();
    }
  });
});
