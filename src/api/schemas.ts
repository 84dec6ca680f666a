import { type TSchema, Type } from '@sinclair/typebox';
import type { FastifySchemaCompiler } from 'fastify';
import { ERRORS, type ErrorCode } from '../errors.js';

/*
 * Schemas shared by the routes of the local API. Every route declares the schema of what it reads
 * (body, query string, path parameters) and of what it answers; the OpenAPI document at /docs is
 * generated from them (docs/API.md).
 */

/** The answer of every failed request: a catalogue code (docs/ERRORS.md), a message, the failing paths. */
export const ErrorBody = Type.Object(
  {
    error: Type.String({ description: 'a GW_ERR_* code from docs/ERRORS.md' }),
    message: Type.String(),
    details: Type.Optional(
      Type.Unknown({
        description: 'for GW_ERR_REQUEST_INVALID: [{ path, message }], one per failing JSON pointer',
      }),
    ),
  },
  { additionalProperties: false },
);

/** Error answers of a route, one entry per status, described by the codes that produce it. */
export function errorResponses(...codes: ErrorCode[]): Record<number, TSchema> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes)
    byStatus.set(ERRORS[code].status, [...(byStatus.get(ERRORS[code].status) ?? []), code]);
  return Object.fromEntries(
    [...byStatus].map(([status, list]) => [status, { ...ErrorBody, description: list.join(', ') }]),
  );
}

/** The errors any route may answer: bad input and the rate limit. */
export const COMMON_ERRORS: ErrorCode[] = ['GW_ERR_REQUEST_INVALID', 'GW_ERR_RATE_LIMITED'];

/** A query string that takes no parameters: any parameter is refused with 400. */
export const NoQuery = Type.Object({}, { additionalProperties: false });

/**
 * A route-level validator compiler for routes that validate their input in the handler with the
 * same schema (the POS ingest, the Meraki receiver): they check the caller first (token, shared
 * secret), then the body, and count each outcome. The route still declares the schema, for the
 * OpenAPI document; fastify does not validate it a second time.
 */
export const validatedInHandler: FastifySchemaCompiler<unknown> = () => () => true;
