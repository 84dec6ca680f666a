/**
 * The one catalogue of coded errors. Every error the gateway reports to a caller, a log line or an
 * exit code carries one of these codes; docs/ERRORS.md documents each. `status` is the HTTP status
 * where one applies; `retryable` tells a caller whether the same request may succeed later.
 */
export const ERRORS = {
  GW_ERR_CONFIG_READ: { status: 500, retryable: false, message: 'configuration file cannot be read' },
  GW_ERR_EVENT_INVALID: { status: 400, retryable: false, message: 'event does not match its schema' },
  GW_ERR_BUFFER_FULL: { status: 503, retryable: true, message: 'buffer is full; event refused' },
  GW_ERR_BUFFER_CLOSED: { status: 503, retryable: true, message: 'buffer is closed; event refused' },
  GW_ERR_BUFFER_IO: { status: 503, retryable: true, message: 'buffer write failed' },
  GW_ERR_UNAUTHORIZED: { status: 401, retryable: false, message: 'a valid bearer token is required' },
  GW_ERR_FORBIDDEN: { status: 403, retryable: false, message: 'the token may not do this' },
  GW_ERR_REQUEST_INVALID: { status: 400, retryable: false, message: 'request does not match its schema' },
  GW_ERR_BODY_TOO_LARGE: { status: 413, retryable: false, message: 'request body is too large' },
  GW_ERR_MEDIA_TYPE: { status: 415, retryable: false, message: 'request body must be application/json' },
  GW_ERR_IDEMPOTENCY_CONFLICT: {
    status: 409,
    retryable: false,
    message: 'this transaction or idempotency key was already used with a different body',
  },
  GW_ERR_STREAM_FULL: { status: 503, retryable: true, message: 'too many live stream clients' },
  GW_ERR_TOKENS_FILE: { status: 500, retryable: false, message: 'the API tokens file cannot be used' },
  GW_ERR_KEY_FILE: { status: 500, retryable: false, message: 'a key file (identity) cannot be used' },
  GW_ERR_TLS_CONFIG: {
    status: 500,
    retryable: false,
    message: 'the MQTT TLS files cannot be used',
  },
  GW_ERR_RATE_LIMITED: {
    status: 429,
    retryable: true,
    message: 'too many requests from this client; retry after the Retry-After seconds',
  },
  GW_ERR_NOT_FOUND: { status: 404, retryable: false, message: 'no such endpoint' },
  // Downlink commands (docs/COMMANDS.md): the `error.code` of a command reply.
  GW_ERR_COMMAND_INVALID: { status: 400, retryable: false, message: 'command does not match its schema' },
  GW_ERR_COMMAND_UNKNOWN: { status: 404, retryable: false, message: 'no such command' },
  GW_ERR_COMMAND_EXPIRED: { status: 410, retryable: false, message: 'command expired before it could run' },
  GW_ERR_COMMAND_ID_REUSED: {
    status: 409,
    retryable: false,
    message: 'this command id was already used by another command',
  },
  GW_ERR_COMMAND_BUSY: {
    status: 503,
    retryable: true,
    message: 'too many commands waiting; send it again later',
  },
  GW_ERR_COMMAND_UNSUPPORTED: {
    status: 501,
    retryable: false,
    message: 'this gateway cannot run this command',
  },
  GW_ERR_COMMAND_FAILED: { status: 500, retryable: false, message: 'the command failed' },
  GW_ERR_CONFIG_INVALID: { status: 400, retryable: false, message: 'configuration is invalid' },
  GW_ERR_CONFIG_CONFLICT: {
    status: 409,
    retryable: false,
    message: 'the running config is not the expected version',
  },
  GW_ERR_CONFIG_WRITE: { status: 500, retryable: false, message: 'configuration file cannot be written' },
  GW_ERR_CONFIG_ROLLED_BACK: {
    status: 500,
    retryable: false,
    message: 'the gateway could not run with the new config; it runs with the previous one',
  },
  GW_ERR_DEVICE_UNKNOWN: { status: 404, retryable: false, message: 'no such device' },
  GW_ERR_DEVICE_UNSUPPORTED: {
    status: 501,
    retryable: false,
    message: 'the device does not support this command',
  },
  GW_ERR_DEVICE_COMMAND_FAILED: { status: 502, retryable: true, message: 'the device command failed' },
} as const;

export type ErrorCode = keyof typeof ERRORS;

export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly retryable: boolean;
  readonly details: unknown;

  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown; details?: unknown }) {
    super(
      message ?? ERRORS[code].message,
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = 'GatewayError';
    this.code = code;
    this.status = ERRORS[code].status;
    this.retryable = ERRORS[code].retryable;
    this.details = options?.details;
  }
}

export function isGatewayError(err: unknown, code?: ErrorCode): err is GatewayError {
  return err instanceof GatewayError && (code === undefined || err.code === code);
}

/** Exit codes of the daemon, from sysexits(3) where one fits. */
export const EXIT = {
  OK: 0,
  FAILURE: 1,
  USAGE: 64,
  CONFIG: 78,
} as const;
