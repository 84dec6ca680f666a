import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import specs from '@asyncapi/specs';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { COMMANDS } from '../../src/downlink/module.js';
import { EVENT_CLASSES, EVENT_TYPE_NAMES, EVENT_TYPES, type EventType } from '../../src/events/catalog.js';
import { envelopeSchema } from '../../src/events/schemas.js';
import { rootPath } from '../../src/paths.js';
import { createAjv } from '../../src/schema/ajv.js';
import { Topics } from '../../src/uplink/topics.js';

/*
 * docs/asyncapi.yaml, the contract for the central team: a valid AsyncAPI 3.0 document (checked
 * against the specification's own JSON Schema from @asyncapi/specs, offline), complete for every
 * topic the gateway uses, and in step with the code (event types, commands, schemas, examples).
 */

type Node = Record<string, unknown>;
interface Message {
  name: string;
  payload: Node;
  examples?: { name?: string; payload: unknown }[];
}
interface Channel {
  address: string;
  messages: Record<string, { $ref: string }>;
}
interface Operation {
  action: 'send' | 'receive';
  channel: { $ref: string };
  messages: { $ref: string }[];
  reply?: { channel: { $ref: string }; messages: { $ref: string }[] };
}
interface Doc {
  asyncapi: string;
  channels: Record<string, Channel>;
  operations: Record<string, Operation>;
  components: { messages: Record<string, Message>; schemas: Record<string, Node>; parameters: Node };
}

const FILE = rootPath('docs', 'asyncapi.yaml');
const doc = parse(readFileSync(FILE, 'utf8'), { uniqueKeys: true }) as Doc;

const pointer = (ref: string): unknown =>
  ref
    .slice(2)
    .split('/')
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce<unknown>((node, part) => (node as Node | undefined)?.[part], doc);

function refs(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) for (const n of node) refs(n, out);
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string') out.push(v);
      else refs(v, out);
    }
  }
  return out;
}

/** The specification's JSON Schema bundles draft-07 itself: ajv must not add its own copy. */
function specValidator() {
  const ajv = new Ajv({ strict: false, allErrors: true, meta: false, validateSchema: false });
  const addFormats = addFormatsModule as unknown as { default: (a: Ajv) => Ajv };
  addFormats.default(ajv);
  return ajv.compile(specs.schemas['3.0.0'] as object);
}

/** The message a channel's `messages.<key>` entry points at. */
const messageOf = (entry: { $ref: string }) => pointer(entry.$ref) as Message;

describe('docs/asyncapi.yaml', () => {
  it('is valid against the AsyncAPI 3.0.0 JSON Schema (a broken copy is not)', () => {
    const validate = specValidator();
    expect(doc.asyncapi).toBe('3.0.0');
    const ok = validate(doc);
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
    const broken = structuredClone(doc) as unknown as Node;
    (broken.channels as Record<string, Node>).state = { address: 42 };
    expect(validate(broken)).toBe(false);
  });

  it('has only $refs that resolve: internal pointers, and JSON Schema files that exist', () => {
    const all = refs(doc);
    expect(all.length).toBeGreaterThan(50);
    for (const ref of all) {
      if (ref.startsWith('#/')) {
        expect(pointer(ref), ref).toBeDefined();
        continue;
      }
      const file = resolve(dirname(FILE), ref);
      expect(existsSync(file), ref).toBe(true);
      const schema = JSON.parse(readFileSync(file, 'utf8')) as Node;
      expect(schema.$schema, ref).toBe('http://json-schema.org/draft-07/schema#');
    }
  });

  it('has a message for every event type, on the channel of its class, published by an operation', () => {
    const topics = new Topics('{store}', '{gateway}');
    for (const type of EVENT_TYPE_NAMES) {
      const cls = EVENT_TYPES[type].cls;
      const address = topics.event(cls, '{device}');
      const channels = Object.entries(doc.channels).filter(([, c]) => c.address === address);
      expect(channels.length, `channel for class ${cls}`).toBe(1);
      const [channelId, channel] = channels[0] as [string, Channel];
      const entry = Object.entries(channel.messages).find(([, m]) => messageOf(m).name === type);
      expect(entry, `message ${type} on ${address}`).toBeDefined();
      const message = messageOf((entry as [string, { $ref: string }])[1]);
      expect((message.payload.schema as { $ref: string }).$ref).toBe(`../schemas/events/${type}.json`);
      const op = Object.values(doc.operations).find(
        (o) =>
          o.action === 'send' &&
          o.channel.$ref === `#/channels/${channelId}` &&
          o.messages.some(
            (m) => m.$ref === `#/channels/${channelId}/messages/${(entry as [string, unknown])[0]}`,
          ),
      );
      expect(op, `send operation for ${type}`).toBeDefined();
    }
    for (const cls of EVENT_CLASSES) {
      expect(
        Object.values(doc.channels).some((c) => c.address === topics.event(cls, '{device}')),
        cls,
      ).toBe(true);
    }
  });

  it('describes the state, commands, replies and offers topics as the gateway uses them', () => {
    const topics = new Topics('{store}', '{gateway}');
    const addresses = Object.values(doc.channels).map((c) => c.address);
    expect(addresses).toContain(topics.state);
    expect(addresses).toContain(`${topics.base}/commands/{command}`);
    expect(addresses).toContain(`${topics.base}/replies/{command}`);
    expect(addresses).toContain('stores/{store}/offers/{offerId}');
  });

  it('uses every channel in an operation, and each operation only sends messages of its channel', () => {
    const used = new Set<string>();
    for (const [id, op] of Object.entries(doc.operations)) {
      const channel = op.channel.$ref;
      used.add(channel);
      for (const m of op.messages) expect(m.$ref.startsWith(`${channel}/messages/`), id).toBe(true);
      if (op.reply) {
        used.add(op.reply.channel.$ref);
        for (const m of op.reply.messages)
          expect(m.$ref.startsWith(`${op.reply.channel.$ref}/messages/`)).toBe(true);
      }
    }
    expect([...used].sort()).toEqual(
      Object.keys(doc.channels)
        .map((c) => `#/channels/${c}`)
        .sort(),
    );
  });

  it('has a message and an args schema for every command, equal to what the gateway validates', () => {
    const names = Object.keys(COMMANDS);
    expect((doc.components.parameters.command as { enum: string[] }).enum).toEqual(names);
    const commandChannel = Object.values(doc.channels).find((c) => c.address.endsWith('/commands/{command}'));
    for (const name of names) {
      const args = COMMANDS[name]?.args;
      expect(doc.components.schemas[`args-${name}`], name).toEqual(JSON.parse(JSON.stringify(args)));
      expect(doc.components.messages[`command-${name}`]?.name, name).toBe(name);
      expect(commandChannel?.messages[`command-${name}`]?.$ref).toBe(`#/components/messages/command-${name}`);
    }
  });

  it('has examples that validate: events against their envelope, the rest against their schemas', () => {
    const ajv = createAjv({ allErrors: true, strict: false });
    let checked = 0;
    for (const [id, message] of Object.entries(doc.components.messages)) {
      const schema = EVENT_TYPE_NAMES.includes(message.name as EventType)
        ? envelopeSchema(message.name as EventType)
        : (pointer((message.payload as { $ref?: string }).$ref ?? '') as Node | undefined);
      if (!schema || !message.examples) continue;
      const validate = ajv.compile(schema);
      for (const ex of message.examples) {
        expect(validate(ex.payload), `${id}: ${ex.name} ${JSON.stringify(validate.errors)}`).toBe(true);
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(12);
  });
});
