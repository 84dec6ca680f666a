import { createHash } from 'node:crypto';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { GatewayError } from '../errors.js';
import type { Gateway } from '../gateway.js';
import type { TokenFile } from './auth.js';

/**
 * The Content-Security-Policy of everything the API serves. The status page and /docs are static
 * files that load one script and one style sheet from the gateway and fetch JSON from it: no inline
 * script or style, no other origin, no framing.
 */
export const CSP_DIRECTIVES = {
  defaultSrc: ["'none'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'"],
  connectSrc: ["'self'"],
  baseUri: ["'none'"],
  formAction: ["'none'"],
  frameAncestors: ["'none'"],
};

/**
 * Security headers on every answer (page and API alike): a strict CSP, `X-Content-Type-Options:
 * nosniff`, `Referrer-Policy: no-referrer`, `X-Frame-Options: DENY`, same-origin resource and
 * opener policies. No HSTS: the API speaks plain HTTP on the store network (or loopback).
 */
export function securityHeaders(app: FastifyInstance): void {
  void app.register(helmet, {
    contentSecurityPolicy: { useDefaults: false, directives: CSP_DIRECTIVES },
    strictTransportSecurity: false,
    xFrameOptions: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    crossOriginResourcePolicy: { policy: 'same-origin' },
    crossOriginOpenerPolicy: { policy: 'same-origin' },
  });
}

const digest = (token: string) => createHash('sha256').update(token).digest('hex').slice(0, 32);

/**
 * What a request counts against: with `keyBy: token`, its bearer token when the token is valid
 * (so a store server behind one address gets its own allowance); otherwise its address. An unknown
 * token counts against the address, so inventing tokens buys no extra requests.
 */
export function clientKey(req: FastifyRequest, tokens: TokenFile | undefined, byToken: boolean): string {
  if (byToken && tokens) {
    const header = req.headers.authorization;
    const m = header === undefined ? null : /^Bearer +(\S+)\s*$/i.exec(header);
    const q = (req.query as Record<string, unknown> | undefined)?.access_token;
    const token = m?.[1] ?? (typeof q === 'string' ? q : undefined);
    if (token !== undefined && tokens.lookup(token)) return `token:${digest(token)}`;
  }
  return `ip:${req.ip}`;
}

/**
 * Rate limiting (`api.rateLimit`): at most `max` requests per client per `windowSec`, then 429
 * GW_ERR_RATE_LIMITED with `Retry-After`. The limit runs as the scope's first `onRequest` hook, so
 * it counts requests before any token check: guessing tokens is limited too.
 */
export async function rateLimiting(scope: FastifyInstance, gateway: Gateway, tokens: TokenFile | undefined) {
  const cfg = gateway.config.api.rateLimit;
  if (!cfg.enabled) return;
  const byToken = cfg.keyBy === 'token';
  await scope.register(rateLimit, {
    global: false,
    max: cfg.max,
    timeWindow: cfg.windowSec * 1000,
    keyGenerator: (req) => clientKey(req, tokens, byToken),
    onExceeded: (_req, key) => gateway.metrics.apiRateLimited.inc({ key: key.slice(0, key.indexOf(':')) }),
    errorResponseBuilder: (_req, ctx) =>
      new GatewayError('GW_ERR_RATE_LIMITED', `too many requests; retry in ${ctx.after}`),
  });
  scope.addHook('onRequest', scope.rateLimit());
}
