import { Type } from '@sinclair/typebox';
import type { FastifyInstance, onRequestAsyncHookHandler } from 'fastify';
import type { Gateway } from '../gateway.js';
import { NoQuery } from './schemas.js';

const Nullable = <T extends ReturnType<typeof Type.Object>>(schema: T) => Type.Union([schema, Type.Null()]);
const Open = (description: string) => Type.Object({}, { additionalProperties: true, description });

export const DeviceHealthSchema = Type.Object(
  {
    id: Type.String(),
    kind: Type.String(),
    state: Type.String({ enum: ['starting', 'connected', 'disconnected', 'unavailable', 'stopped'] }),
    path: Type.Optional(Type.String()),
    since: Type.String({ format: 'date-time' }),
    readings: Type.Integer(),
    decodeErrors: Type.Integer(),
    reopens: Type.Integer(),
    lastReadingAt: Type.Optional(Type.String({ format: 'date-time' })),
    lastError: Type.Optional(Type.String()),
  },
  { additionalProperties: true },
);

const UplinkStatusSchema = Type.Object(
  {
    connected: Type.Boolean(),
    broker: Type.String(),
    protocolVersion: Type.Integer(),
    inflight: Type.Integer(),
    window: Type.Integer(),
    birth: Type.Integer(),
    connectedSince: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    lastError: Type.Union([Type.String(), Type.Null()]),
    reconnects: Type.Integer(),
    nextRetryInMs: Type.Union([Type.Integer(), Type.Null()]),
  },
  { additionalProperties: true },
);

export const GatewayStatusSchema = Type.Object(
  {
    version: Type.String(),
    store: Type.String(),
    gateway: Type.String(),
    bootId: Type.String({ format: 'uuid' }),
    state: Type.String({ enum: ['created', 'starting', 'running', 'stopping', 'stopped'] }),
    startedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    uplink: Nullable(UplinkStatusSchema),
    buffer: Nullable(Open('buffer statistics: rows, bytes, maxBytes, oldestSeq, lastSeq, refusing…')),
    devices: Type.Array(DeviceHealthSchema),
    modules: Type.Record(Type.String(), Type.Unknown(), {
      description: 'status of each running feature module (pos, offers, stream, presence, commands…)',
    }),
  },
  { additionalProperties: true },
);

const ReadyBody = Type.Object({
  ready: Type.Boolean(),
  state: Type.String(),
  buffer: Type.Object({
    open: Type.Boolean(),
    rows: Type.Optional(Type.Integer()),
    refusing: Type.Optional(Type.Boolean()),
  }),
  broker: Type.Object({
    connected: Type.Boolean(),
    lastError: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  }),
});

/** Health, readiness, metrics and status: read-only, no personal data. */
export function coreRoutes(
  app: FastifyInstance,
  gateway: Gateway,
  statusAuth?: onRequestAsyncHookHandler,
): void {
  app.get(
    '/healthz',
    {
      schema: {
        summary: 'Liveness: the process answers',
        tags: ['health'],
        querystring: NoQuery,
        response: { 200: Type.Object({ status: Type.Literal('ok') }) },
      },
    },
    async () => ({ status: 'ok' }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        summary: 'Readiness: running with the buffer open (503 otherwise)',
        tags: ['health'],
        querystring: NoQuery,
        response: { 200: ReadyBody, 503: ReadyBody },
      },
    },
    async (_req, reply) => {
      const s = gateway.status();
      const ready = gateway.running && s.buffer !== null;
      return reply.status(ready ? 200 : 503).send({
        ready,
        state: s.state,
        buffer: s.buffer ? { open: true, rows: s.buffer.rows, refusing: s.buffer.refusing } : { open: false },
        broker: s.uplink
          ? { connected: s.uplink.connected, lastError: s.uplink.lastError }
          : { connected: false },
      });
    },
  );

  app.get(
    '/metrics',
    {
      schema: {
        summary: 'Prometheus metrics (sg_*, docs/OPERATIONS.md)',
        tags: ['health'],
        querystring: NoQuery,
        response: {
          200: {
            description: 'Prometheus text exposition format',
            content: { 'text/plain': { schema: Type.String() } },
          },
        },
      },
    },
    async (_req, reply) => {
      if (gateway.running) gateway.outbox.stats(); // refreshes the byte gauge
      reply.header('content-type', gateway.metrics.registry.contentType);
      return gateway.metrics.registry.metrics();
    },
  );

  app.get(
    '/v1/status',
    {
      ...(statusAuth ? { onRequest: statusAuth } : {}),
      schema: {
        summary: 'Gateway status: uplink, buffer, devices, modules',
        tags: ['status'],
        querystring: NoQuery,
        response: { 200: GatewayStatusSchema },
      },
    },
    async () => gateway.status(),
  );
}
