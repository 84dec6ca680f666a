import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import { isGatewayError } from '../errors.js';
import type { Gateway } from '../gateway.js';

/**
 * The local HTTP API. `buildApi` wires routes without listening, so tests use `inject()`;
 * `listen` is the caller's job. Later features register as plugins on the same instance.
 */
export function buildApi(gateway: Gateway): FastifyInstance {
  const app = Fastify({
    loggerInstance: gateway.log.child({ component: 'api' }) as FastifyBaseLogger,
    // Requests are not logged one by one: bodies and headers may carry tokens or personal data.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 256 * 1024,
  });

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, _req, reply) => {
    if (isGatewayError(err)) {
      if (err.retryable && err.status === 503) reply.header('retry-after', '5');
      return reply.status(err.status).send({ error: err.code, message: err.message, details: err.details });
    }
    const status = err.statusCode ?? 500;
    if (status >= 500) gateway.log.error({ err }, 'api error');
    return reply.status(status).send({ error: err.code ?? 'error', message: err.message });
  });

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_req, reply) => {
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
  });

  app.get('/metrics', async (_req, reply) => {
    if (gateway.running) gateway.outbox.stats(); // refreshes the byte gauge
    reply.header('content-type', gateway.metrics.registry.contentType);
    return gateway.metrics.registry.metrics();
  });

  app.get('/v1/status', async () => gateway.status());

  for (const m of gateway.modules) {
    const routes = m.routes?.bind(m);
    if (routes) {
      void app.register((scope, _opts, done) => {
        Promise.resolve(routes(scope)).then(() => done(), done);
      });
    }
  }

  return app;
}
