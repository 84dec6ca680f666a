import { Type } from '@sinclair/typebox';
import { Section, Size } from '../config/types.js';

export const PosConfig = Section(
  {
    enabled: Type.Boolean({
      default: false,
      description: 'serve POST /v1/pos/transactions (needs api.tokensFile)',
    }),
    maxBodyBytes: Size('largest transaction body accepted (413 above it)', '128KiB'),
    idempotencyHours: Type.Integer({
      minimum: 1,
      maximum: 720,
      default: 72,
      description: 'how long the first answer to a transaction is kept for retries',
    }),
    dbPath: Type.Optional(
      Type.String({
        minLength: 1,
        description: 'SQLite file of the stored answers; default pos.db beside the buffer',
      }),
    ),
  },
  'POS transaction ingest on the local API (docs/POS.md)',
);
