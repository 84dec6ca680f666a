import { EventConsumer, type Received } from '../../src/consumer/consumer.js';
import { waitFor } from './wait.js';

/**
 * A central consumer that keeps everything it receives, for assertions. Persistent session by
 * default, so a broker restart loses nothing queued for it.
 */
export class Collector {
  readonly received: Received[] = [];
  readonly states: Record<string, unknown>[] = [];
  readonly consumer: EventConsumer;

  constructor(url: string, opts: { protocolVersion?: 4 | 5; clientId?: string; storeId?: string } = {}) {
    this.consumer = new EventConsumer({
      url,
      protocolVersion: opts.protocolVersion ?? 5,
      clientId: opts.clientId ?? `collector-${process.pid}-${Math.random().toString(16).slice(2, 8)}`,
      persistent: true,
      storeId: opts.storeId,
    });
    this.consumer.on('event', (r) => this.received.push(r));
    this.consumer.on('state', (s) => {
      if (s.state) this.states.push(s.state);
    });
  }

  static async start(url: string, opts?: ConstructorParameters<typeof Collector>[1]): Promise<Collector> {
    const c = new Collector(url, opts);
    await c.consumer.start();
    return c;
  }

  /** Distinct events (duplicates dropped), in arrival order. */
  unique(type?: string) {
    return this.received.filter((r) => !r.duplicate && r.event && (!type || r.event.type === type));
  }

  async waitForUnique(n: number, type?: string, timeoutMs = 20_000): Promise<void> {
    try {
      await waitFor(() => this.unique(type).length >= n, `${n} ${type ?? 'events'}`, timeoutMs);
    } catch (err) {
      throw new Error(`${(err as Error).message} (have ${this.unique(type).length})`);
    }
  }

  stop(): Promise<void> {
    return this.consumer.stop();
  }
}
