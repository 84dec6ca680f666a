import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { EVENT_CLASSES, type EventClass } from './events/catalog.js';
import { createIdentityMetrics, type IdentityMetrics } from './identity/metrics.js';

type ClassCounter = Record<EventClass, Counter.Internal>;

/**
 * The gateway's Prometheus metrics, one registry per gateway instance (tests run several in one
 * process). Hot-path counters are pre-bound per class so an increment is one property read.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly accepted: ClassCounter;
  readonly published: ClassCounter;
  readonly dropped: ClassCounter;
  readonly refused: Counter<'class' | 'reason'>;
  readonly rejected: Counter<'class' | 'reason'>;
  readonly decodeErrors: Counter<'device' | 'reason'>;
  readonly reconnects: Counter;
  readonly deviceReconnects: Counter<'device'>;
  readonly connected: Gauge;
  readonly inflight: Gauge;
  readonly bufferRows: Gauge;
  readonly bufferBytes: Gauge;
  readonly bufferQuarantines: Counter;
  readonly authFailures: Counter<'reason'>;
  readonly posTransactions: Counter<'result'>;
  readonly offerMessages: Counter<'result'>;
  readonly offersCached: Gauge;
  readonly streamClients: Gauge;
  readonly streamDropped: Counter<'reason'>;
  readonly commands: Counter<'command' | 'outcome'>;
  readonly identity: IdentityMetrics;
  readonly apiRateLimited: Counter<'key'>;

  constructor(opts: { processMetrics?: boolean } = {}) {
    const r = [this.registry];
    const perClass = (name: string, help: string): ClassCounter => {
      const c = new Counter({ name, help, labelNames: ['class'], registers: r });
      // Every class is exported from the start (at 0), so rate() works before the first event.
      return Object.fromEntries(
        EVENT_CLASSES.map((cls) => {
          const child = c.labels(cls);
          child.inc(0);
          return [cls, child];
        }),
      ) as ClassCounter;
    };
    this.accepted = perClass('sg_events_accepted_total', 'Events committed to the buffer');
    this.published = perClass('sg_events_published_total', 'Events acknowledged by the broker (PUBACK)');
    this.dropped = perClass(
      'sg_events_dropped_total',
      'Accepted presence events dropped (oldest first) to make room',
    );
    this.refused = new Counter({
      name: 'sg_events_refused_total',
      help: 'Events refused before acceptance (buffer full, disk low, buffer closed, write error)',
      labelNames: ['class', 'reason'],
      registers: r,
    });
    this.rejected = new Counter({
      name: 'sg_events_rejected_total',
      help: 'Events the broker refused for good (moved to the dead_letter table)',
      labelNames: ['class', 'reason'],
      registers: r,
    });
    this.decodeErrors = new Counter({
      name: 'sg_decode_errors_total',
      help: 'Input that could not be decoded, per device and reason',
      labelNames: ['device', 'reason'],
      registers: r,
    });
    this.reconnects = new Counter({
      name: 'sg_mqtt_reconnects_total',
      help: 'MQTT connection losses',
      registers: r,
    });
    this.deviceReconnects = new Counter({
      name: 'sg_device_reopens_total',
      help: 'Device reopen after loss',
      labelNames: ['device'],
      registers: r,
    });
    this.connected = new Gauge({
      name: 'sg_mqtt_connected',
      help: '1 when connected to the broker',
      registers: r,
    });
    this.inflight = new Gauge({
      name: 'sg_mqtt_inflight',
      help: 'QoS 1 messages awaiting PUBACK',
      registers: r,
    });
    this.bufferRows = new Gauge({
      name: 'sg_buffer_rows',
      help: 'Events in the buffer not yet acknowledged',
      registers: r,
    });
    this.bufferBytes = new Gauge({
      name: 'sg_buffer_bytes',
      help: 'Bytes used by the buffer file',
      registers: r,
    });
    this.bufferQuarantines = new Counter({
      name: 'sg_buffer_quarantines_total',
      help: 'Corrupt buffer files set aside',
      registers: r,
    });
    this.authFailures = new Counter({
      name: 'sg_api_auth_failures_total',
      help: 'Local API requests refused for their bearer token (missing, invalid, scope, lane)',
      labelNames: ['reason'],
      registers: r,
    });
    this.posTransactions = new Counter({
      name: 'sg_pos_transactions_total',
      help: 'POS transactions posted to the local API, by outcome',
      labelNames: ['result'],
      registers: r,
    });
    this.offerMessages = new Counter({
      name: 'sg_offers_messages_total',
      help: 'Offer messages received from personalization, by outcome',
      labelNames: ['result'],
      registers: r,
    });
    this.offersCached = new Gauge({ name: 'sg_offers_cached', help: 'Offers in the cache', registers: r });
    this.streamClients = new Gauge({
      name: 'sg_stream_clients',
      help: 'Clients connected to the live event stream',
      registers: r,
    });
    this.streamDropped = new Counter({
      name: 'sg_stream_clients_dropped_total',
      help: 'Live stream clients disconnected by the gateway',
      labelNames: ['reason'],
      registers: r,
    });
    this.commands = new Counter({
      name: 'sg_commands_total',
      help: 'Downlink commands by name and outcome (ok, replayed, or the error code)',
      labelNames: ['command', 'outcome'],
      registers: r,
    });
    this.apiRateLimited = new Counter({
      name: 'sg_api_rate_limited_total',
      help: 'Local API requests refused with 429, by what the client was keyed on (token, ip)',
      labelNames: ['key'],
      registers: r,
    });
    this.identity = createIdentityMetrics(r);
    if (opts.processMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'sg_' });
  }
}
