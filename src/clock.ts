/** Wall-clock time in milliseconds since the epoch. Injected so tests and decoders never read the real clock. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
