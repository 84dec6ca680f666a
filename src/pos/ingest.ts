import { createHash } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import { mayActFor, type Principal } from '../api/auth.js';
import type { Clock } from '../clock.js';
import { GatewayError, isGatewayError } from '../errors.js';
import type { EventFactory, PendingEvent } from '../events/envelope.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { createAjv, describeErrors, type SchemaIssue } from '../schema/ajv.js';
import type { AnswerStore } from './idempotency.js';
import { type PosTransaction, PosTransactionData, transactionIssues } from './schema.js';

/** The body of a 202 answer (documented in the OpenAPI document; built in `commit`). */
export const PosAnswerBody = Type.Object({
  status: Type.Literal('accepted'),
  eventId: Type.String({ format: 'uuid', description: 'id of the retail.pos.transaction.v1 event' }),
  seq: Type.Integer({ description: "the event's seq: it is committed to the buffer" }),
  storeId: Type.String(),
  workstationId: Type.String(),
  businessDayDate: Type.String({ format: 'date' }),
  sequenceNumber: Type.Integer(),
  acceptedAt: Type.String({ format: 'date-time', description: 'when the first request was accepted' }),
});

/** An answer exactly as sent the first time: a retry gets these bytes again. */
export interface Answer {
  status: number;
  body: string;
}

export interface IngestDeps {
  storeId: string;
  factory: EventFactory;
  /** The outbox's `accept`: resolves with the seq once the event is committed. */
  accept(ev: PendingEvent): Promise<number>;
  store: AnswerStore;
  clock: Clock;
  metrics: Metrics;
  log: Logger;
}

const validate = createAjv({ allErrors: true }).compile(PosTransactionData);
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/** JSON with object keys sorted, so the same transaction hashes the same whatever the key order. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) =>
      a < b ? -1 : a > b ? 1 : 0,
    );
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The hash a transaction's retries are compared by. */
export const transactionHash = (tx: unknown) =>
  createHash('sha256').update(canonical(tx)).digest('base64url');

const invalid = (issues: SchemaIssue[]) =>
  new GatewayError(
    'GW_ERR_REQUEST_INVALID',
    `transaction is invalid: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
    { details: issues },
  );

/**
 * POS ingest without the HTTP around it: validate, check the lane, deduplicate, commit, answer.
 *
 * A transaction is identified by its natural key (store, workstation, business day, sequence
 * number; the business day is part of it because many POS systems restart their numbering each
 * day) and, if the lane sends one, by its `Idempotency-Key`. The first request for a key is
 * processed; a duplicate that arrives while it is in flight waits for it and gets the same answer;
 * a later one gets the stored answer. Same key with a different body is a conflict (409).
 */
export class PosIngest {
  private readonly inflight = new Map<string, { hash: string; answer: Promise<Answer> }>();
  accepted = 0;
  replayed = 0;

  constructor(private readonly deps: IngestDeps) {}

  /** Parses and checks a body; throws GW_ERR_REQUEST_INVALID with every failing path. */
  check(body: unknown): PosTransaction {
    if (!validate(body)) throw invalid(describeErrors(validate.errors));
    const tx = body as PosTransaction;
    const issues = transactionIssues(tx, this.deps.storeId);
    if (issues.length > 0) throw invalid(issues);
    return tx;
  }

  async post(
    principal: Principal,
    body: unknown,
    idempotencyKey: string | undefined,
  ): Promise<Answer & { replayed: boolean }> {
    const { metrics } = this.deps;
    let tx: PosTransaction;
    try {
      if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
        throw invalid([{ path: '/', message: 'Idempotency-Key must be 1–255 printable ASCII characters' }]);
      }
      tx = this.check(body);
    } catch (err) {
      metrics.posTransactions.inc({ result: 'invalid' });
      throw err;
    }
    if (!mayActFor(principal, tx.workstationId)) {
      metrics.authFailures.inc({ reason: 'lane' });
      throw new GatewayError(
        'GW_ERR_FORBIDDEN',
        `this token may not post for workstation ${tx.workstationId}`,
      );
    }
    const keys = [`n:${tx.workstationId}/${tx.businessDayDate}/${tx.sequenceNumber}`];
    if (idempotencyKey !== undefined) keys.push(`h:${principal.name}:${idempotencyKey}`);
    const hash = transactionHash(tx);

    for (const key of keys) {
      const running = this.inflight.get(key);
      if (running) return this.replay(running.hash, hash, await running.answer);
    }
    const stored = this.deps.store.find(keys);
    if (stored?.answer != null && stored.status != null) {
      return this.replay(stored.bodyHash, hash, { status: stored.status, body: stored.answer });
    }
    if (stored && stored.bodyHash !== hash) throw this.conflict();

    const answer = this.commit(keys, hash, tx, stored?.event ?? null);
    for (const key of keys) this.inflight.set(key, { hash, answer });
    try {
      const a = await answer;
      this.accepted++;
      metrics.posTransactions.inc({ result: 'accepted' });
      return { ...a, replayed: false };
    } catch (err) {
      metrics.posTransactions.inc({
        result: isGatewayError(err, 'GW_ERR_BUFFER_FULL') ? 'refused' : 'error',
      });
      throw err;
    } finally {
      for (const key of keys) this.inflight.delete(key);
    }
  }

  /** Waits for every request in flight (used on stop). */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.inflight.values()].map((f) => f.answer));
  }

  private replay(firstHash: string, hash: string, answer: Answer): Answer & { replayed: boolean } {
    if (firstHash !== hash) throw this.conflict();
    this.replayed++;
    this.deps.metrics.posTransactions.inc({ result: 'replayed' });
    return { ...answer, replayed: true };
  }

  private conflict(): GatewayError {
    this.deps.metrics.posTransactions.inc({ result: 'conflict' });
    return new GatewayError('GW_ERR_IDEMPOTENCY_CONFLICT');
  }

  /**
   * Writes the pending row (with the event), hands the event to the outbox and stores the answer
   * once it is committed. `previous` is the event of a row left pending by a crash: it is sent
   * again with its id, so central can drop it if the first copy made it.
   */
  private async commit(
    keys: string[],
    hash: string,
    tx: PosTransaction,
    previous: PendingEvent | null,
  ): Promise<Answer> {
    const { store, clock, factory } = this.deps;
    const ev = previous ?? factory.create('retail.pos.transaction.v1', tx.workstationId, tx, clock.now());
    try {
      store.begin(keys, hash, ev, clock.now());
    } catch (err) {
      // The answer store shares the disk with the buffer: a full or failing disk refuses the
      // transaction (503, the lane retries) like a full buffer does, never a 500.
      const code = String((err as { code?: string }).code ?? '');
      if (code === 'SQLITE_FULL') throw new GatewayError('GW_ERR_BUFFER_FULL');
      if (code.startsWith('SQLITE_IOERR') || code === 'SQLITE_READONLY')
        throw new GatewayError('GW_ERR_BUFFER_IO');
      throw err;
    }
    let seq: number;
    try {
      seq = await this.deps.accept(ev);
    } catch (err) {
      store.abandon(keys);
      throw err;
    }
    const body = JSON.stringify({
      status: 'accepted',
      eventId: ev.id,
      seq,
      storeId: tx.storeId,
      workstationId: tx.workstationId,
      businessDayDate: tx.businessDayDate,
      sequenceNumber: tx.sequenceNumber,
      acceptedAt: new Date(clock.now()).toISOString(),
    });
    try {
      store.complete(keys, hash, 202, body, clock.now());
    } catch (err) {
      // The event is committed; a retry will resend the same event id, which central drops.
      this.deps.log.error({ err }, 'POS answer could not be stored; a retry will resend the same event');
    }
    return { status: 202, body };
  }
}
