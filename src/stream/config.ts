import { Type } from '@sinclair/typebox';
import { Section, Size } from '../config/types.js';

export const StreamConfig = Section(
  {
    enabled: Type.Boolean({
      default: false,
      description: 'serve GET /v1/events/stream (Server-Sent Events)',
    }),
    requireToken: Type.Boolean({
      default: true,
      description: 'the stream needs a bearer token with the stream scope (events carry loyalty ids)',
    }),
    historyEvents: Type.Integer({
      minimum: 0,
      maximum: 100000,
      default: 1000,
      description: 'recent events kept in memory for Last-Event-ID resumes',
    }),
    historyBytes: Size('memory the recent events may take at most', '4MiB'),
    clientBufferBytes: Size('unsent bytes a client may fall behind before it is disconnected', '1MiB'),
    maxClients: Type.Integer({
      minimum: 1,
      maximum: 1000,
      default: 32,
      description: 'stream clients at once; more get 503',
    }),
    heartbeatSec: Type.Integer({
      minimum: 1,
      maximum: 300,
      default: 15,
      description: 'a comment line is sent this often so idle connections stay open',
    }),
  },
  'live local event stream for kiosks and POS (docs/POS.md)',
);
