import { EVENT_TYPES, type EventType } from './catalog.js';

const ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$';

/**
 * The CloudEvents 1.0 structured-mode envelope of one event type, with its data schema inlined.
 * This is the published contract: consumers validate what they receive against it.
 */
export function envelopeSchema(type: EventType): Record<string, unknown> {
  const entry = EVENT_TYPES[type];
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: `https://store-gateway.dev/schemas/events/${type}.json`,
    title: type,
    description: `${entry.description}. CloudEvents 1.0, structured JSON mode; MQTT topic class "${entry.cls}".`,
    type: 'object',
    additionalProperties: false,
    required: [
      'specversion',
      'id',
      'source',
      'type',
      'time',
      'datacontenttype',
      'seq',
      'bootid',
      'storeid',
      'gatewayid',
      'data',
    ],
    properties: {
      specversion: { const: '1.0' },
      id: {
        type: 'string',
        format: 'uuid',
        pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$',
        description: 'UUIDv7, time-ordered; the deduplication key',
      },
      source: {
        type: 'string',
        pattern: '^/stores/[^/]+/gateways/[^/]+/devices/[^/]+$',
        description: '/stores/{store}/gateways/{gateway}/devices/{device}',
      },
      type: { const: type },
      time: {
        type: 'string',
        format: 'date-time',
        pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z$',
        description: 'when the reading was captured, RFC 3339 UTC with milliseconds',
      },
      datacontenttype: { const: 'application/json' },
      seq: {
        type: 'integer',
        minimum: 1,
        maximum: Number.MAX_SAFE_INTEGER,
        description:
          'per-gateway sequence number, strictly increasing across restarts; a gap means events were lost',
      },
      bootid: { type: 'string', format: 'uuid', description: 'changes each time the gateway process starts' },
      storeid: { type: 'string', pattern: ID_PATTERN },
      gatewayid: { type: 'string', pattern: ID_PATTERN },
      data: JSON.parse(JSON.stringify(entry.data)),
    },
  };
}
