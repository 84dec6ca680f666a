import { Type } from '@sinclair/typebox';
import { Section } from '../config/types.js';

export const OffersConfig = Section(
  {
    enabled: Type.Boolean({
      default: false,
      description: 'cache offers from stores/{store}/offers/# and serve GET /v1/offers',
    }),
    requireToken: Type.Boolean({
      default: true,
      description: 'GET /v1/offers needs a bearer token with the offers scope (answers name loyalty ids)',
    }),
    maxOffers: Type.Integer({
      minimum: 1,
      maximum: 10000000,
      default: 200000,
      description: 'offers kept at most; further new offers are refused and counted',
    }),
    dbPath: Type.Optional(
      Type.String({
        minLength: 1,
        description: 'SQLite file of the cache; default offers.db beside the buffer',
      }),
    ),
  },
  'offers cache for POS lookups (docs/POS.md)',
);
