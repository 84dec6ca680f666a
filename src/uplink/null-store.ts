import { Readable } from 'node:stream';
import type { IStore, Packet } from 'mqtt';

/**
 * mqtt.js's outgoing store, emptied of its job: the outbox is the only store of unacknowledged
 * events, and the uplink resends from it on every new connection. Keeping a second copy of each
 * in-flight packet in mqtt.js would only add memory and a one-at-a-time replay on reconnect.
 */
export class NullStore implements IStore {
  put(_packet: Packet, cb: () => void): IStore {
    cb?.();
    return this;
  }

  createStream(): ReturnType<IStore['createStream']> {
    // mqtt.js types this as readable-stream's Readable; it only reads, listens and destroys.
    return new Readable({
      objectMode: true,
      read() {
        this.push(null);
      },
    }) as unknown as ReturnType<IStore['createStream']>;
  }

  del(packet: Pick<Packet, 'messageId'>, cb: (error?: Error, packet?: Packet) => void): IStore {
    // mqtt.js treats a missing packet as an error on PUBACK; answer with the id it asked for.
    cb?.(undefined, packet as Packet);
    return this;
  }

  get(packet: Pick<Packet, 'messageId'>, cb: (error?: Error, packet?: Packet) => void): IStore {
    cb?.(undefined, packet as Packet);
    return this;
  }

  close(cb: () => void): void {
    cb?.();
  }
}
