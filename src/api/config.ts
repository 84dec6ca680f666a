import { Type } from '@sinclair/typebox';
import { Section, StringEnum } from '../config/types.js';

export const ApiRateLimitConfig = Section(
  {
    enabled: Type.Boolean({ default: true, description: 'limit requests per client (429 with Retry-After)' }),
    max: Type.Integer({
      minimum: 1,
      maximum: 1000000,
      default: 600,
      description: 'requests one client may make per window',
    }),
    windowSec: Type.Integer({
      minimum: 1,
      maximum: 86400,
      default: 60,
      description: 'the window, in seconds',
    }),
    keyBy: StringEnum(
      ['token', 'ip'] as const,
      'token',
      'token: a request with a valid bearer token counts against its token, others against their address; ip: always the address',
    ),
  },
  'rate limiting of the local API (docs/API.md)',
);

export const StatusPageConfig = Section(
  {
    enabled: Type.Boolean({
      default: true,
      description: 'serve the status page at / and its data at /v1/status/history and /v1/status/events',
    }),
    requireToken: Type.Boolean({
      default: false,
      description:
        'GET /v1/status, /v1/status/history and /v1/status/events need a bearer token with the status scope',
    }),
    sampleSec: Type.Integer({
      minimum: 1,
      maximum: 300,
      default: 5,
      description: 'how often buffer depth and uplink rate are sampled for the page',
    }),
    historySamples: Type.Integer({
      minimum: 2,
      maximum: 10000,
      default: 360,
      description: 'samples kept in memory (360 × 5 s = 30 minutes)',
    }),
    recentEvents: Type.Integer({
      minimum: 0,
      maximum: 1000,
      default: 50,
      description: 'recent events kept in memory for the page (summaries only, no personal data)',
    }),
  },
  'the read-only status page (docs/API.md)',
);
