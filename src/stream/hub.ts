import type { ServerResponse } from 'node:http';
import type { OutboxRow } from '../buffer/outbox.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { Ring } from './ring.js';

export interface StreamFilter {
  /** Event classes to send; null sends every class. */
  classes: ReadonlySet<string> | null;
  /** Device ids to send; null sends every device. */
  devices: ReadonlySet<string> | null;
}

interface Client {
  readonly id: number;
  readonly res: ServerResponse;
  readonly filter: StreamFilter;
  /** Seq of the last row this client has been sent or has skipped. */
  cursor: number;
  /** Still catching up from the ring (resume); live rows wait in the ring meanwhile. */
  catchingUp: boolean;
  closed: boolean;
}

/** A backlog write stops adding rows at this size and waits for the socket to drain. */
const BACKLOG_CHUNK = 64 * 1024;

const matches = (f: StreamFilter, row: OutboxRow) =>
  (f.classes === null || f.classes.has(row[1])) && (f.devices === null || f.devices.has(row[2]));

/** One SSE message: the event's seq as the id, the CloudEvent (one JSON line) as the data. */
const frame = (row: OutboxRow) => `id: ${row[0]}\ndata: ${row[3]}\n\n`;

/**
 * The clients of the live stream. Each committed row goes to every client whose filter matches.
 * A live client's unsent bytes (its response's `writableLength`, which includes what the socket
 * holds) are checked before every write: one that would go over `bufferBytes` is disconnected, so
 * a client that stops reading costs at most `bufferBytes` of memory, never more. A resuming client
 * is fed from the ring at its own pace (waiting for 'drain'), and dropped if it falls out of it.
 */
export class StreamHub {
  private readonly clients = new Set<Client>();
  private nextId = 1;
  /** Largest unsent backlog any client has had: the bound, as observed. */
  maxQueuedBytes = 0;
  dropped = 0;

  constructor(
    private readonly ring: Ring,
    private readonly opts: { bufferBytes: number; metrics: Metrics; log: Logger },
  ) {}

  get size(): number {
    return this.clients.size;
  }

  /**
   * Adds a client whose response headers are sent. `resumeAfter` is its Last-Event-ID; when the
   * ring does not reach back that far the client gets a `reset` event and everything the ring has.
   */
  add(res: ServerResponse, filter: StreamFilter, resumeAfter: number | undefined): void {
    const c: Client = {
      id: this.nextId++,
      res,
      filter,
      cursor: this.ring.lastSeq,
      catchingUp: false,
      closed: false,
    };
    this.clients.add(c);
    this.opts.metrics.streamClients.set(this.clients.size);
    res.on('close', () => this.remove(c));
    if (resumeAfter !== undefined) {
      if (this.ring.covers(resumeAfter)) c.cursor = resumeAfter;
      else {
        c.cursor = this.ring.coveredAfter;
        res.write(
          `event: reset\ndata: ${JSON.stringify({ lastEventId: resumeAfter, resumedAfter: c.cursor })}\n\n`,
        );
      }
      c.catchingUp = true;
      this.catchUp(c);
    }
  }

  /** New committed rows (already pushed to the ring). */
  onCommitted(rows: readonly OutboxRow[]): void {
    const last = rows.at(-1);
    if (!last) return;
    for (const c of this.clients) {
      if (c.catchingUp) {
        if (!this.ring.covers(c.cursor)) this.drop(c, 'slow', 'fell behind the recent-event window');
        continue;
      }
      let text = '';
      for (const row of rows) if (matches(c.filter, row)) text += frame(row);
      c.cursor = last[0];
      if (text !== '') this.write(c, text);
    }
  }

  /** A comment line to every live client, so idle connections stay open through proxies. */
  heartbeat(): void {
    for (const c of this.clients) if (!c.catchingUp) this.write(c, ': keepalive\n\n');
  }

  /** Ends every stream (gateway stop, API close). */
  closeAll(): void {
    for (const c of this.clients) {
      c.closed = true;
      c.res.end();
    }
    this.clients.clear();
    this.opts.metrics.streamClients.set(0);
  }

  clientsStatus(): { id: number; queuedBytes: number; catchingUp: boolean }[] {
    return [...this.clients].map((c) => ({
      id: c.id,
      queuedBytes: c.res.writableLength,
      catchingUp: c.catchingUp,
    }));
  }

  /** Writes to a live client, or drops it when the write would take it over its bound. */
  private write(c: Client, text: string): void {
    const queued = c.res.writableLength + Buffer.byteLength(text);
    if (queued > this.opts.bufferBytes) {
      this.drop(c, 'slow', 'client is not reading fast enough');
      return;
    }
    c.res.write(text);
    this.track(c);
  }

  /** Feeds a resuming client from the ring, a chunk at a time, until it is live. */
  private catchUp(c: Client): void {
    while (!c.closed) {
      if (!this.ring.covers(c.cursor)) {
        this.drop(c, 'slow', 'fell behind the recent-event window');
        return;
      }
      const rows = this.ring.after(c.cursor, 256);
      if (rows.length === 0) {
        c.catchingUp = false;
        return;
      }
      let text = '';
      for (const row of rows) {
        c.cursor = row[0];
        if (matches(c.filter, row)) text += frame(row);
        if (text.length >= BACKLOG_CHUNK) break;
      }
      if (text === '') continue;
      const more = c.res.write(text);
      this.track(c);
      if (!more) {
        c.res.once('drain', () => this.catchUp(c));
        return;
      }
    }
  }

  private track(c: Client): void {
    const q = c.res.writableLength;
    if (q > this.maxQueuedBytes) this.maxQueuedBytes = q;
  }

  private drop(c: Client, reason: 'slow', why: string): void {
    if (c.closed) return;
    this.dropped++;
    this.opts.metrics.streamDropped.inc({ reason });
    this.opts.log.warn({ client: c.id, queuedBytes: c.res.writableLength, why }, 'stream client dropped');
    c.res.destroy();
    this.remove(c);
  }

  private remove(c: Client): void {
    c.closed = true;
    if (this.clients.delete(c)) this.opts.metrics.streamClients.set(this.clients.size);
  }
}
