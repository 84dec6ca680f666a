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
