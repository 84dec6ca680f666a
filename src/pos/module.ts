import { dirname, join } from 'node:path';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifySchema } from 'fastify';
import { bearerAuth, openTokenFile, principalOf, type TokenFile, writeEndpointErrors } from '../api/auth.js';
import { errorResponses, validatedInHandler } from '../api/schemas.js';
import type { Config } from '../config/schema.js';
import { parseSize } from '../config/types.js';
import { GatewayError } from '../errors.js';
import type { Gateway } from '../gateway.js';
import type { GatewayModule } from '../modules.js';
import { AnswerStore } from './idempotency.js';
import { PosAnswerBody, PosIngest } from './ingest.js';
import { PosTransactionData } from './schema.js';

const PURGE_EVERY_MS = 60 * 60 * 1000;

/** The route's schema: the OpenAPI document is generated from it (docs/API.md). */
const POST_SCHEMA: FastifySchema = {
  summary: 'Post a transaction; 202 once its event is committed (docs/POS.md)',
  tags: ['pos'],
  headers: Type.Object({
    'idempotency-key': Type.Optional(
      Type.String({ pattern: '^[\\x21-\\x7e]{1,255}$', description: 'retry key of the lane' }),
    ),
  }),
  body: PosTransactionData,
  response: {
    202: { ...PosAnswerBody, description: 'accepted (Idempotent-Replayed: true on a retry)' },
    ...errorResponses(
      'GW_ERR_IDEMPOTENCY_CONFLICT',
      'GW_ERR_BODY_TOO_LARGE',
      'GW_ERR_MEDIA_TYPE',
      'GW_ERR_BUFFER_FULL',
    ),
  },
};

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
        // PosIngest validates the body against the same schema, after the token, and counts it.
        validatorCompiler: validatedInHandler,
        schema: POST_SCHEMA,
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
