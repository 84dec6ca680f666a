import { dirname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { bearerAuth, openTokenFile, principalOf, type TokenFile, writeEndpointErrors } from '../api/auth.js';
import type { Config } from '../config/schema.js';
import { parseSize } from '../config/types.js';
import { GatewayError } from '../errors.js';
import type { Gateway } from '../gateway.js';
import type { GatewayModule } from '../modules.js';
import { AnswerStore } from './idempotency.js';
import { PosIngest } from './ingest.js';

const PURGE_EVERY_MS = 60 * 60 * 1000;

/** Where the POS answers live: `pos.dbPath`, or pos.db beside the buffer. */
export function posDbPath(config: Config): string {
  return config.pos.dbPath ?? join(dirname(config.buffer.path), 'pos.db');
}

/**
 * `POST /v1/pos/transactions`: a lane posts a transaction with its bearer token; the gateway
 * answers 202 once the `retail.pos.transaction.v1` event is committed to the buffer. The body is
 * never logged: it may hold a loyalty id.
 */
export class PosModule implements GatewayModule {
  readonly name = 'pos';
  private store: AnswerStore | undefined;
  private ingest: PosIngest | undefined;
  private tokens: TokenFile | undefined;
  private purgeTimer: NodeJS.Timeout | undefined;
  private gateway: Gateway | undefined;

  constructor(private readonly config: Config) {}

  start(gateway: Gateway): void {
    const log = gateway.log.child({ component: 'pos' });
    this.gateway = gateway;
    this.tokens = openTokenFile(this.config.api.tokensFile, 'pos', { log, clock: gateway.clock });
    const store = new AnswerStore(posDbPath(this.config), { log, now: () => gateway.clock.now() });
    this.store = store;
    this.ingest = new PosIngest({
      storeId: this.config.store.id,
      factory: gateway.factory,
      accept: (ev) => gateway.outbox.accept(ev),
      store,
      clock: gateway.clock,
      metrics: gateway.metrics,
      log,
    });
    this.purge();
    this.purgeTimer = setInterval(() => this.purge(), PURGE_EVERY_MS);
    this.purgeTimer.unref();
  }

  private purge(): void {
    if (!this.store || !this.gateway) return;
    const keepMs = this.config.pos.idempotencyHours * 3600_000;
    const purged = this.store.purge(this.gateway.clock.now() - keepMs);
    if (purged > 0) this.gateway.log.debug({ purged }, 'old POS answers purged');
  }

  routes(app: FastifyInstance): void {
    const gateway = this.gateway;
    if (!gateway) throw new Error('pos module not started');
    app.setErrorHandler(writeEndpointErrors);
    app.post(
      '/v1/pos/transactions',
      {
        bodyLimit: parseSize(this.config.pos.maxBodyBytes),
        onRequest: bearerAuth({ tokens: this.tokens, scope: 'pos', metrics: gateway.metrics }),
      },
      async (req, reply) => {
        const ingest = this.ingest;
        const principal = principalOf(req);
        if (!ingest || !principal) throw new GatewayError('GW_ERR_BUFFER_CLOSED');
        // Fastify also parses text/plain; anything but JSON is the wrong media type.
        if (typeof req.body === 'string') throw new GatewayError('GW_ERR_MEDIA_TYPE');
        const key = req.headers['idempotency-key'];
        const answer = await ingest.post(principal, req.body, Array.isArray(key) ? key.join(',') : key);
        if (answer.replayed) reply.header('idempotent-replayed', 'true');
        return reply
          .status(answer.status)
          .header('content-type', 'application/json; charset=utf-8')
          .send(answer.body);
      },
    );
  }

  status(): unknown {
    return {
      accepted: this.ingest?.accepted ?? 0,
      replayed: this.ingest?.replayed ?? 0,
      storedAnswers: this.store?.count ?? 0,
      tokens: this.tokens?.count ?? 0,
    };
  }

  async stop(): Promise<void> {
    if (this.purgeTimer) clearInterval(this.purgeTimer);
    await this.ingest?.settle();
    this.ingest = undefined;
    this.store?.close();
    this.store = undefined;
  }
}

export async function createPosModule(config: Config): Promise<GatewayModule | null> {
  return config.pos?.enabled ? new PosModule(config) : null;
}
