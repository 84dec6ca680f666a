import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError, isGatewayError } from '../errors.js';
import type { Logger } from '../logger.js';
import { describeErrors } from '../schema/ajv.js';

/** Fastify's own errors as catalogue errors: every failed request answers in the same shape. */
function fromFastify(err: FastifyError): GatewayError | undefined {
  if (err.validation) {
    const part = err.validationContext ?? 'request';
    const issues = describeErrors(err.validation as Parameters<typeof describeErrors>[0]);
    return new GatewayError(
      'GW_ERR_REQUEST_INVALID',
      `${part} is invalid: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`.slice(0, 2000),
      { details: issues },
    );
  }
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new GatewayError('GW_ERR_BODY_TOO_LARGE');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new GatewayError('GW_ERR_MEDIA_TYPE');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      // Not err.message: a JSON parse error quotes the body, which may hold personal data.
      return new GatewayError('GW_ERR_REQUEST_INVALID', 'body is not valid JSON', {
        details: [{ path: '/', message: 'is not valid JSON' }],
      });
    default:
      return undefined;
  }
}

/**
 * The local API's one error handler: a GatewayError answers with its status and
 * `{ error, message, details }`; fastify's validation and body errors are mapped to catalogue codes
 * first. Anything else is a 5xx that is logged (with the error only: never the request).
 */
export function apiErrorHandler(log: Logger) {
  return (err: FastifyError, _req: FastifyRequest, reply: FastifyReply) => {
    const e = isGatewayError(err) ? err : fromFastify(err);
    if (e) {
      if (e.retryable && e.status === 503) reply.header('retry-after', '5');
      return reply.status(e.status).send({ error: e.code, message: e.message, details: e.details });
    }
    const status = err.statusCode ?? 500;
    if (status >= 500) log.error({ err }, 'api error');
    return reply.status(status).send({ error: err.code ?? 'error', message: err.message });
  };
}

export function notFound(_req: FastifyRequest, reply: FastifyReply) {
  const e = new GatewayError('GW_ERR_NOT_FOUND');
  return reply.status(e.status).send({ error: e.code, message: e.message });
}
