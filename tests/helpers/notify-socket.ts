import { existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { loadUnixDgram, parseNotifyMessage, type UnixDgramSocket } from '../../src/systemd/notify.js';
import { waitFor } from './wait.js';

/*
 * The service manager's end of $NOTIFY_SOCKET for tests that run the gateway as systemd would: a
 * real AF_UNIX datagram socket bound at a path (with the same native module the gateway sends
 * with), recording every datagram in arrival order with its arrival time.
 */

export interface NotifyMessage {
  fields: Record<string, string>;
  /** performance.now() in the test process when the datagram arrived. */
  at: number;
  /** Whether the file given as `bufferPath` existed when the message arrived (false without one). */
  bufferExisted: boolean;
}

export const isWatchdogPing = (f: Record<string, string>): boolean => f.WATCHDOG === '1';

export class NotifyReceiver {
  readonly messages: NotifyMessage[] = [];
  private readonly socket: UnixDgramSocket;

  /** Binds `path`; `bufferPath`, if given, is checked for existence as each message arrives. */
  constructor(
    readonly path: string,
    bufferPath?: string,
  ) {
    this.socket = loadUnixDgram().createSocket('unix_dgram', (buf) => {
      this.messages.push({
        fields: parseNotifyMessage(buf.toString()),
        at: performance.now(),
        bufferExisted: bufferPath !== undefined && existsSync(bufferPath),
      });
    });
    this.socket.bind(path);
  }

  /** Index of the first message at or after index `from` that satisfies `pred`, waiting for it. */
  async next(
    pred: (f: Record<string, string>) => boolean,
    what: string,
    from = 0,
    timeoutMs = 60_000,
  ): Promise<number> {
    const i = await waitFor(
      () => {
        const found = this.messages.findIndex((m, idx) => idx >= from && pred(m.fields));
        return found >= 0 ? found + 1 : 0; // +1: index 0 must be truthy
      },
      what,
      timeoutMs,
    );
    return i - 1;
  }

  /** The message at `index` (which must exist). */
  at(index: number): NotifyMessage {
    const m = this.messages[index];
    if (!m) throw new Error(`no notify message #${index} (have ${this.messages.length})`);
    return m;
  }

  close(): void {
    this.socket.close();
  }
}
