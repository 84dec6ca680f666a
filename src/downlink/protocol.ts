import { type Static, Type } from '@sinclair/typebox';
import { ERRORS, type ErrorCode, isGatewayError } from '../errors.js';
import { createAjv, describeErrors, type SchemaIssue } from '../schema/ajv.js';

/*
 * The wire format of downlink commands (docs/COMMANDS.md). Pure: no I/O, no clock.
 */

/** A command id: what central dedupes by, and the key of the stored reply. */
export const CommandId = Type.String({ minLength: 1, maxLength: 128, pattern: '^[\\x21-\\x7e]+$' });

/** An MQTT topic name a reply may go to: no wildcards, no empty string. */
export const ReplyTopic = Type.String({ minLength: 1, maxLength: 512, pattern: '^[^+#\\x00]+$' });

export const CommandRequest = Type.Object(
  {
    id: CommandId,
    expiresAt: Type.Optional(Type.String({ format: 'date-time' })),
    args: Type.Optional(Type.Object({}, { additionalProperties: true })),
    replyTo: Type.Optional(ReplyTopic),
  },
  // Central may add fields (a trace id, who sent it); they are ignored.
  { additionalProperties: true },
);
export type CommandRequest = Static<typeof CommandRequest>;

export interface ReplyError {
  code: ErrorCode;
  message: string;
  retryable: boolean;
  details?: unknown;
}

export type Reply =
  | { id: string | null; command: string; ok: true; time: string; result: unknown }
  | { id: string | null; command: string; ok: false; time: string; error: ReplyError };

const ajv = createAjv({ allErrors: true });
const validateRequest = ajv.compile(CommandRequest);
const validReplyTopic = ajv.compile(ReplyTopic);

export type ParsedRequest =
  | { ok: true; request: CommandRequest }
  | { ok: false; id: string | null; issues: SchemaIssue[] };

/** Parses a command payload: a JSON object with at least an `id`. */
export function parseRequest(payload: Buffer | string): ParsedRequest {
  let value: unknown;
  try {
    value = JSON.parse(payload.toString());
  } catch (err) {
    return { ok: false, id: null, issues: [{ path: '/', message: `not JSON: ${(err as Error).message}` }] };
  }
  if (validateRequest(value)) return { ok: true, request: value as CommandRequest };
  const id = (value as { id?: unknown } | null)?.id;
  return {
    ok: false,
    id: typeof id === 'string' && id.length <= 128 ? id : null,
    issues: describeErrors(validateRequest.errors),
  };
}

/** Compiles an args schema; the validator lists every problem under `/args`. */
export function argsValidator(schema: object): (args: unknown) => SchemaIssue[] {
  const validate = ajv.compile(schema);
  return (args) => (validate(args) ? [] : describeErrors(validate.errors, '/args'));
}

/** A coded error for a reply; `message` defaults to the catalogue's. */
export function replyError(code: ErrorCode, message?: string, details?: unknown): ReplyError {
  const def = ERRORS[code];
  return {
    code,
    message: message ?? def.message,
    retryable: def.retryable,
    ...(details === undefined ? {} : { details }),
  };
}

/** Any thrown value as a reply error: a GatewayError keeps its code, anything else is GW_ERR_COMMAND_FAILED. */
export function toReplyError(err: unknown): ReplyError {
  if (isGatewayError(err)) return replyError(err.code, err.message, err.details);
  return replyError('GW_ERR_COMMAND_FAILED', err instanceof Error ? err.message : String(err));
}

/**
 * When a command stops being worth running: the earlier of its `expiresAt` and the MQTT 5 message
 * expiry left when the broker delivered it. Null when neither is set; NaN never occurs (the request
 * schema checks `expiresAt`).
 */
export function deadlineOf(
  request: CommandRequest,
  messageExpirySec: number | undefined,
  receivedAt: number,
): number | null {
  const candidates: number[] = [];
  if (request.expiresAt !== undefined) candidates.push(Date.parse(request.expiresAt));
  if (messageExpirySec !== undefined) candidates.push(receivedAt + messageExpirySec * 1000);
  return candidates.length === 0 ? null : Math.min(...candidates);
}

/** Where the reply to one command goes. */
export interface ReplyRoute {
  topic: string;
  /** MQTT 5 correlation data of the request, returned unchanged. */
  correlationData?: Buffer;
  via: 'response-topic' | 'reply-to' | 'reply-topic';
}

/**
 * The MQTT 5 response topic (with its correlation data) wins; then a `replyTo` field in the
 * payload; then the gateway's reply topic for this command, `{base}/replies/{name}`.
 */
export function replyRoute(
  base: string,
  name: string,
  props: { responseTopic?: string; correlationData?: Buffer } | undefined,
  replyTo: string | undefined,
): ReplyRoute {
  if (props?.responseTopic) {
    return {
      topic: props.responseTopic,
      ...(props.correlationData ? { correlationData: props.correlationData } : {}),
      via: 'response-topic',
    };
  }
  if (replyTo) return { topic: replyTo, via: 'reply-to' };
  return { topic: `${base}/replies/${name}`, via: 'reply-topic' };
}

/** The `replyTo` of a payload that failed validation, if it is usable, so the error still reaches its sender. */
export function looseReplyTo(payload: Buffer | string): string | undefined {
  try {
    const v = (JSON.parse(payload.toString()) as { replyTo?: unknown } | null)?.replyTo;
    return validReplyTopic(v) ? (v as string) : undefined;
  } catch {
    return undefined;
  }
}

/** Command names as they appear in a topic level: lower-case words joined by '-'. */
export const COMMAND_NAME = /^[a-z][a-z0-9-]{0,63}$/;
