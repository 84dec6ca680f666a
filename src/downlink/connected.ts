import type { IClientPublishOptions } from 'mqtt';
import type { Uplink } from '../uplink/uplink.js';

/** Resolves once the uplink is connected; rejects after `ms`. */
export function waitConnected(uplink: Uplink, ms: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (uplink.isConnected) return resolve();
    const onConnected = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      uplink.off('connected', onConnected);
      reject(new Error(`no connection to the broker within ${ms / 1000} s`));
    }, ms);
    uplink.once('connected', onConnected);
  });
}

/** Publishes outside the outbox, waiting up to `ms` for a connection first (a reply after a restart). */
export async function publishWhenConnected(
  uplink: Uplink,
  topic: string,
  payload: string,
  options: IClientPublishOptions,
  ms: number,
): Promise<void> {
  await waitConnected(uplink, ms);
  await uplink.publishDirect(topic, payload, options);
}
