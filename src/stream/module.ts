import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifySchema } from 'fastify';
import { bearerAuth, openTokenFile, type TokenFile } from '../api/auth.js';
import { errorResponses, validatedInHandler } from '../api/schemas.js';
import type { OutboxRow } from '../buffer/outbox.js';
import type { Config } from '../config/schema.js';
import { parseSize } from '../config/types.js';
import { GatewayError } from '../errors.js';
import { EVENT_CLASSES } from '../events/catalog.js';
import type { Gateway } from '../gateway.js';
import type { GatewayModule } from '../modules.js';
import type { SchemaIssue } from '../schema/ajv.js';
import { type StreamFilter, StreamHub } from './hub.js';
import { Ring } from './ring.js';

const DEVICE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const SEQ = /^[0-9]{1,16}$/;

/** The route's schema, for the OpenAPI document (docs/API.md); `streamRequest` checks the query. */
const STREAM_SCHEMA: FastifySchema = {
  summary: 'Committed events as Server-Sent Events (id: seq, data: the CloudEvent)',
  tags: ['stream'],
  querystring: Type.Object(
    {
      class: Type.Optional(
        Type.Array(Type.String(), {
          description: `event classes (${EVENT_CLASSES.join(', ')}); repeated or comma-separated`,
        }),
      ),
      device: Type.Optional(
        Type.Array(Type.String(), { description: 'device ids; repeated or comma-separated' }),
      ),
      lastEventId: Type.Optional(
        Type.String({ pattern: SEQ.source, description: 'resume after this seq (as Last-Event-ID)' }),
      ),
      access_token: Type.Optional(Type.String({ description: 'the bearer token, for EventSource clients' })),
    },
    { additionalProperties: false },
  ),
  headers: Type.Object({
    'last-event-id': Type.Optional(
      Type.String({ pattern: SEQ.source, description: 'sent by EventSource on reconnect' }),
    ),
  }),
  response: {
    200: {
      description: 'an event stream; `event: reset` when the resume point is no longer kept',
      content: { 'text/event-stream': { schema: Type.String() } },
    },
    ...errorResponses('GW_ERR_STREAM_FULL'),
  },
};

/** `class` and `device` may be repeated or comma-separated. */
const list = (v: unknown): string[] =>
  v === undefined ? [] : (Array.isArray(v) ? v : [v]).flatMap((s) => String(s).split(',')).filter(Boolean);

/** Reads the filters and the resume point of a stream request; throws 400 with every problem. */
export function streamRequest(
  query: Record<string, unknown>,
  lastEventIdHeader: string | undefined,
): { filter: StreamFilter; resumeAfter: number | undefined } {
  const issues: SchemaIssue[] = [];
  const classes = list(query.class);
  const devices = list(query.device);
  classes.forEach((c, i) => {
    if (!(EVENT_CLASSES as readonly string[]).includes(c)) {
      issues.push({ path: `/class/${i}`, message: `must be one of ${EVENT_CLASSES.join(', ')}` });
    }
  });
  devices.forEach((d, i) => {
    if (!DEVICE.test(d)) issues.push({ path: `/device/${i}`, message: 'is not a valid device id' });
  });
  // EventSource sends Last-Event-ID on its reconnects; a client that kept the id may pass it.
  const raw = lastEventIdHeader ?? (typeof query.lastEventId === 'string' ? query.lastEventId : undefined);
  if (raw !== undefined && !SEQ.test(raw.trim())) {
    issues.push({ path: '/lastEventId', message: 'must be an event seq (a whole number)' });
  }
  if (issues.length > 0) {
    throw new GatewayError(
      'GW_ERR_REQUEST_INVALID',
      `stream request is invalid: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
      { details: issues },
    );
  }
  return {
    filter: {
      classes: classes.length ? new Set(classes) : null,
      devices: devices.length ? new Set(devices) : null,
    },
    resumeAfter: raw === undefined ? undefined : Number(raw.trim()),
  };
}

/**
 * `GET /v1/events/stream`: the gateway's events as they are committed, as Server-Sent Events, for
 * kiosks and POS in the store. The recent events are kept in memory (a ring bounded by count and
 * bytes) so a client that reconnects with Last-Event-ID misses nothing that is still in it.
 */
export class StreamModule implements GatewayModule {
  readonly name = 'stream';
  private ring: Ring | undefined;
  private hub: StreamHub | undefined;
  private tokens: TokenFile | undefined;
  private gateway: Gateway | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private readonly onCommitted = (rows: readonly OutboxRow[]) => {
    this.ring?.push(rows);
    this.hub?.onCommitted(rows);
  };

  constructor(private readonly config: Config) {}

  start(gateway: Gateway): void {
    const cfg = this.config.stream;
    const log = gateway.log.child({ component: 'stream' });
    this.gateway = gateway;
    if (cfg.requireToken) {
      this.tokens = openTokenFile(this.config.api.tokensFile, 'stream.requireToken', {
        log,
        clock: gateway.clock,
      });
    }
    this.ring = new Ring(cfg.historyEvents, parseSize(cfg.historyBytes), gateway.outbox.lastCommittedSeq);
    this.hub = new StreamHub(this.ring, {
      bufferBytes: parseSize(cfg.clientBufferBytes),
      metrics: gateway.metrics,
      log,
    });
    gateway.outbox.on('committed', this.onCommitted);
    this.heartbeat = setInterval(() => this.hub?.heartbeat(), cfg.heartbeatSec * 1000);
    this.heartbeat.unref();
  }

  routes(app: FastifyInstance): void {
    const gateway = this.gateway;
    if (!gateway) throw new Error('stream module not started');
    // Open streams would keep the server from closing: end them first.
    app.addHook('preClose', (done) => {
      this.hub?.closeAll();
      done();
    });
    const onRequest = this.config.stream.requireToken
      ? bearerAuth({ tokens: this.tokens, scope: 'stream', metrics: gateway.metrics, allowQueryToken: true })
      : undefined;
    const route = { validatorCompiler: validatedInHandler, schema: STREAM_SCHEMA };
    app.get('/v1/events/stream', { ...route, ...(onRequest ? { onRequest } : {}) }, (req, reply) =>
      this.open(req, reply),
    );
  }

  private open(req: FastifyRequest, reply: FastifyReply): void {
    const hub = this.hub;
    const header = req.headers['last-event-id'];
    const { filter, resumeAfter } = streamRequest(
      req.query as Record<string, unknown>,
      Array.isArray(header) ? header[0] : header,
    );
    if (!hub) throw new GatewayError('GW_ERR_STREAM_FULL', 'the live stream is stopped');
    if (hub.size >= this.config.stream.maxClients) throw new GatewayError('GW_ERR_STREAM_FULL');
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    // A client reconnects after 2 s, sending the last id it saw.
    res.write('retry: 2000\n\n');
    hub.add(res, filter, resumeAfter);
  }

  status(): unknown {
    return {
      clients: this.hub?.clientsStatus() ?? [],
      dropped: this.hub?.dropped ?? 0,
      maxQueuedBytes: this.hub?.maxQueuedBytes ?? 0,
      history: {
        events: this.ring?.length ?? 0,
        bytes: this.ring?.bytes ?? 0,
        coversAfterSeq: this.ring?.coveredAfter ?? null,
        lastSeq: this.ring?.lastSeq ?? null,
      },
    };
  }

  stop(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.gateway?.outbox.off('committed', this.onCommitted);
    this.hub?.closeAll();
  }
}

export async function createStreamModule(config: Config): Promise<GatewayModule | null> {
  return config.stream?.enabled ? new StreamModule(config) : null;
}
