import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { Offer, OfferRetraction, parseOfferMessage } from '../../src/offers/schema.js';
import { rootPath } from '../../src/paths.js';

const asyncapi = parse(readFileSync(rootPath('docs', 'asyncapi.yaml'), 'utf8')) as {
  channels: Record<string, { address: string; messages: Record<string, unknown> }>;
  components: {
    schemas: Record<string, unknown>;
    messages: Record<string, { payload: unknown; examples?: { payload: unknown }[] }>;
  };
};
const json = (s: unknown) => JSON.parse(JSON.stringify(s));

describe('the offers contract in docs/asyncapi.yaml', () => {
  it('carries the same offer and retraction schemas as the code', () => {
    expect(asyncapi.components.schemas.offer).toEqual(json(Offer));
    expect(asyncapi.components.schemas.offerRetraction).toEqual(json(OfferRetraction));
    expect(asyncapi.channels.offers?.address).toBe('stores/{store}/offers/{offerId}');
  });

  it('has examples the gateway accepts', () => {
    const offer = asyncapi.components.messages.offer?.examples?.[0]?.payload;
    const retraction = asyncapi.components.messages.offerRetraction?.examples?.[0]?.payload;
    expect(parseOfferMessage('welcome-back', offer).kind).toBe('offer');
    expect(parseOfferMessage('welcome-back', retraction).kind).toBe('retraction');
  });
});
