import type { EventClass } from '../events/catalog.js';

/** The MQTT topic tree of one gateway (docs/TOPICS.md). */
export class Topics {
  readonly base: string;
  readonly state: string;
  readonly eventsPrefix: string;

  constructor(storeId: string, gatewayId: string) {
    this.base = `stores/${storeId}/gateways/${gatewayId}`;
    this.state = `${this.base}/state`;
    this.eventsPrefix = `${this.base}/events/`;
  }

  event(cls: EventClass, deviceId: string): string {
    return `${this.eventsPrefix}${cls}/${deviceId}`;
  }

  /** Subscription filters for a consumer of one store (or all stores with '+'). */
  static eventsFilter(storeId = '+', gatewayId = '+'): string {
    return `stores/${storeId}/gateways/${gatewayId}/events/#`;
  }

  static stateFilter(storeId = '+', gatewayId = '+'): string {
    return `stores/${storeId}/gateways/${gatewayId}/state`;
  }
}

/** Content type of one CloudEvent in structured JSON mode (MQTT 5 content-type property). */
export const CLOUDEVENT_CONTENT_TYPE = 'application/cloudevents+json; charset=utf-8';
