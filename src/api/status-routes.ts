import { readFileSync } from 'node:fs';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, onRequestAsyncHookHandler } from 'fastify';
import type { Gateway } from '../gateway.js';
import { rootPath } from '../paths.js';
import { RecentEvents } from './recent-events.js';
import { NoQuery } from './schemas.js';
import { StatusHistory } from './status-history.js';

const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  css: 'text/css; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  svg: 'image/svg+xml',
};

/**
 * Serves files of src/status-page at fixed URLs. They are read once, at start: a handful of small
 * files, so no static-file plugin and no path from the request ever reaches the file system.
 */
export function staticFiles(app: FastifyInstance, files: Record<string, string>): void {
  for (const [url, name] of Object.entries(files)) {
    const body = readFileSync(rootPath('src', 'status-page', name));
    const type = TYPES[name.slice(name.lastIndexOf('.') + 1)] ?? 'application/octet-stream';
    app.get(url, { schema: { hide: true, querystring: Type.Object({}) } }, async (_req, reply) =>
      reply.header('content-type', type).header('cache-control', 'no-cache').send(body),
    );
  }
}

const Sample = Type.Object({
  time: Type.String({ format: 'date-time' }),
  bufferRows: Type.Integer({ description: 'events in the buffer not yet acknowledged' }),
  bufferBytes: Type.Integer(),
  connected: Type.Boolean({ description: 'uplink connected to the broker' }),
  inflight: Type.Integer({ description: 'messages awaiting PUBACK' }),
  acceptedPerSec: Type.Number({ description: 'events committed per second since the previous sample' }),
  publishedPerSec: Type.Number({ description: 'events acknowledged by the broker per second' }),
});

const Summary = Type.Object({
  seq: Type.Integer(),
  class: Type.String(),
  device: Type.String(),
  type: Type.String(),
  time: Type.String(),
  summary: Type.String({ description: 'fields without personal data: code, state, zone, lane total…' }),
});

const EventsQuery = Type.Object(
  {
    after: Type.Optional(
      Type.Integer({ minimum: 0, description: 'only events with a larger seq (the last seq the page saw)' }),
    ),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 50 })),
  },
  { additionalProperties: false },
);

/**
 * The status page (`/`) and the data only it needs: buffer depth and uplink rate over time
 * (`/v1/status/history`) and summaries of the recent events (`/v1/status/events`). Both are kept
 * in memory here, for as long as this API runs. Everything is read-only; with
 * `api.statusPage.requireToken` the JSON needs a token with the status scope (the static files
 * carry no data and are served to anyone).
 */
export async function statusPageRoutes(
  app: FastifyInstance,
  gateway: Gateway,
  statusAuth: onRequestAsyncHookHandler | undefined,
): Promise<void> {
  const cfg = gateway.config.api.statusPage;
  const history = new StatusHistory(gateway, {
    sampleMs: cfg.sampleSec * 1000,
    maxSamples: cfg.historySamples,
  });
  const recent = new RecentEvents(cfg.recentEvents, gateway.running ? gateway.outbox.lastCommittedSeq : 0);
  if (gateway.running) gateway.outbox.on('committed', recent.onCommitted);
  history.start();
  app.addHook('onClose', async () => {
    if (gateway.running) gateway.outbox.off('committed', recent.onCommitted);
    await history.stop();
  });

  staticFiles(app, { '/': 'index.html', '/assets/status.js': 'status.js' });
  const auth = statusAuth ? { onRequest: statusAuth } : {};

  app.get(
    '/v1/status/history',
    {
      ...auth,
      schema: {
        summary: 'Buffer depth and uplink rate over time (in memory, for the status page)',
        tags: ['status'],
        querystring: NoQuery,
        response: {
          200: Type.Object({ sampleSec: Type.Number(), samples: Type.Array(Sample) }),
        },
      },
    },
    async () => ({ sampleSec: history.sampleMs / 1000, samples: history.list() }),
  );

  app.get<{ Querystring: { after?: number; limit: number } }>(
    '/v1/status/events',
    {
      ...auth,
      schema: {
        summary: 'Summaries of the recent events (no personal data), oldest first',
        tags: ['status'],
        querystring: EventsQuery,
        response: { 200: Type.Object({ lastSeq: Type.Integer(), events: Type.Array(Summary) }) },
      },
    },
    async (req) => ({
      lastSeq: recent.lastSeq,
      events: recent.after(req.query.after ?? 0, req.query.limit),
    }),
  );
}
