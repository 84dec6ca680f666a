import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';

export type ProxyMode =
  | { kind: 'forward' }
  | { kind: 'blackhole' }
  | { kind: 'throttle'; bytesPerSec: number; latencyMs: number };

/** Bytes a throttled direction holds before it stops reading (a router's queue, roughly). */
const THROTTLE_QUEUE_BYTES = 64 * 1024;
/** Largest piece a throttled direction delivers at once, so the rate stays smooth. */
const THROTTLE_PIECE = 1024;

interface Piece {
  chunk: Buffer;
  /** When it may be written to the other side (performance.now() ms). */
  dueAt: number;
}

/**
 * One direction of one connection: reads `src`, writes `dst`, as the proxy's mode allows. While
 * blackholed it stops reading (the sender's data piles up in TCP buffers, as on a dead path) and
 * holds what it has; a FIN from the sender is passed on only after everything before it.
 */
class Direction {
  private readonly queue: Piece[] = [];
  private queued = 0;
  private ended = false;
  private timer: NodeJS.Timeout | undefined;
  /** When the throttled link finishes sending what is queued. */
  private linkFreeAt = 0;
  /** Set once the far side closed: nothing more is written. */
  private dead = false;

  constructor(
    private readonly src: Socket,
    private readonly dst: Socket,
    private readonly proxy: TcpProxy,
    private readonly count: (n: number) => void,
  ) {
    src.on('data', (chunk: Buffer) => this.inject(chunk));
    src.on('end', () => {
      this.ended = true;
      this.pump();
    });
    dst.on('drain', () => this.pump());
  }

  /** Takes bytes read from `src` (or read before this direction existed). */
  inject(chunk: Buffer): void {
    const mode = this.proxy.mode;
    const now = performance.now();
    if (mode.kind === 'throttle') {
      for (let off = 0; off < chunk.length; off += THROTTLE_PIECE) {
        const piece = chunk.subarray(off, off + THROTTLE_PIECE);
        this.linkFreeAt = Math.max(this.linkFreeAt, now) + (piece.length * 1000) / mode.bytesPerSec;
        this.queue.push({ chunk: piece, dueAt: this.linkFreeAt + mode.latencyMs });
      }
    } else {
      this.queue.push({ chunk, dueAt: now });
    }
    this.queued += chunk.length;
    this.pump();
  }

  /** Writes what is due, and reads on only while the mode and the queue allow. */
  pump(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.dead) return;
    const mode = this.proxy.mode;
    if (mode.kind === 'blackhole') {
      this.src.pause();
      return;
    }
    const now = performance.now();
    while (this.queue.length > 0) {
      const head = this.queue[0] as Piece;
      if (mode.kind === 'throttle' && head.dueAt > now) {
        this.timer = setTimeout(() => this.pump(), Math.max(1, Math.ceil(head.dueAt - now)));
        break;
      }
      this.queue.shift();
      this.queued -= head.chunk.length;
      this.count(head.chunk.length);
      if (!this.dst.write(head.chunk)) break;
    }
    if (this.queue.length === 0 && this.ended) {
      this.dst.end();
      return;
    }
    const full =
      this.dst.writableNeedDrain || (mode.kind === 'throttle' && this.queued >= THROTTLE_QUEUE_BYTES);
    if (full) this.src.pause();
    else this.src.resume();
  }

  close(): void {
    this.dead = true;
    if (this.timer) clearTimeout(this.timer);
    this.queue.length = 0;
  }
}

/**
 * A TCP proxy for fault tests, between the gateway and its broker. Modes, switched at any time, on
 * every connection at once:
 *
 * - `forward()`: passes bytes both ways as they come;
 * - `blackhole()`: stops forwarding without closing anything, like a path whose packets vanish:
 *   neither side gets a FIN or a reset, data sent meanwhile waits in the TCP buffers, and new
 *   connections are accepted (the kernel does that) but not connected through;
 * - `throttle(bytesPerSec, latencyMs)`: each direction delivers at most `bytesPerSec`, every byte
 *   `latencyMs` late, and holds at most 64 KiB before it stops reading, so the sender sees TCP
 *   backpressure as on a slow WAN link;
 * - `heal()`: back to forwarding; held data and connections go through.
 */
export class TcpProxy {
  mode: ProxyMode = { kind: 'forward' };
  /** Bytes delivered client→target and target→client. */
  readonly bytes = { up: 0, down: 0 };
  /** Connections accepted so far. */
  accepted = 0;
  /** performance.now() of the last bytes delivered to a client (target→client). */
  lastDownAt = 0;
  private readonly conns = new Set<{ directions: Direction[]; client: Socket; target?: Socket }>();
  private readonly held: (() => void)[] = [];

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  /** Listens on a free port of 127.0.0.1 and forwards to `target`. */
  static async start(target: { host?: string; port: number }): Promise<TcpProxy> {
    let proxy: TcpProxy | undefined;
    const server = createServer({ pauseOnConnect: true, allowHalfOpen: true }, (client) =>
      proxy?.onClient(client),
    );
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const port = (server.address() as { port: number }).port;
    proxy = new TcpProxy(server, port, target.host ?? '127.0.0.1', target.port);
    return proxy;
  }

  /** `mqtt://127.0.0.1:<port>` (or another scheme). */
  url(scheme = 'mqtt'): string {
    return `${scheme}://127.0.0.1:${this.port}`;
  }

  /** Open client connections. */
  get connections(): number {
    return this.conns.size;
  }

  forward(): void {
    this.setMode({ kind: 'forward' });
  }

  heal(): void {
    this.forward();
  }

  blackhole(): void {
    this.setMode({ kind: 'blackhole' });
  }

  throttle(bytesPerSec: number, latencyMs: number): void {
    this.setMode({ kind: 'throttle', bytesPerSec, latencyMs });
  }

  private setMode(mode: ProxyMode): void {
    this.mode = mode;
    if (mode.kind !== 'blackhole') for (const connect of this.held.splice(0)) connect();
    for (const c of this.conns) for (const d of c.directions) d.pump();
  }

  private onClient(client: Socket): void {
    this.accepted++;
    const conn: { directions: Direction[]; client: Socket; target?: Socket } = { directions: [], client };
    this.conns.add(conn);
    client.setNoDelay(true);
    // A close on either side is news that a dead path would not carry: held until it heals.
    const finish = () => {
      if (this.mode.kind === 'blackhole') {
        this.held.push(finish);
        return;
      }
      if (!this.conns.delete(conn)) return;
      for (const d of conn.directions) d.close();
      client.destroy();
      conn.target?.destroy();
    };
    client.on('error', finish);
    client.on('close', finish);
    // Accepted while blackholed: read what the client sends (its CONNECT) and keep it; once healed,
    // connect through unless the client gave up meanwhile.
    const early: Buffer[] = [];
    let gaveUp = false;
    const keep = (chunk: Buffer) => early.push(chunk);
    const quit = () => {
      gaveUp = true;
    };
    const connectThrough = () => {
      client.off('data', keep);
      client.off('end', quit);
      if (gaveUp || client.destroyed) {
        finish();
        return;
      }
      client.pause();
      const target = tcpConnect({ host: this.targetHost, port: this.targetPort, allowHalfOpen: true });
      conn.target = target;
      target.setNoDelay(true);
      target.on('error', finish);
      target.on('close', finish);
      const up = new Direction(client, target, this, (n) => {
        this.bytes.up += n;
      });
      conn.directions.push(
        up,
        new Direction(target, client, this, (n) => {
          this.bytes.down += n;
          this.lastDownAt = performance.now();
        }),
      );
      for (const chunk of early.splice(0)) up.inject(chunk);
      for (const d of conn.directions) d.pump();
    };
    if (this.mode.kind === 'blackhole') {
      client.on('data', keep);
      client.on('end', quit);
      client.resume();
      this.held.push(connectThrough);
    } else connectThrough();
  }

  /** Closes the listener and every connection. */
  async close(): Promise<void> {
    this.held.length = 0;
    for (const c of [...this.conns]) {
      for (const d of c.directions) d.close();
      c.client.destroy();
      c.target?.destroy();
    }
    this.conns.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
