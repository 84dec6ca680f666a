// Deep modules of @abandonware/noble (CommonJS, no typings of their own). Only what the driver uses.

declare module '@abandonware/noble/with-bindings.js' {
  import type { EventEmitter } from 'node:events';

  const withBindings: (bindings: EventEmitter) => EventEmitter;
  export default withBindings;
}

declare module '@abandonware/noble/lib/hci-socket/bindings.js' {
  import type { EventEmitter } from 'node:events';

  const NobleBindings: new (options: { deviceId?: number; extended?: boolean }) => EventEmitter;
  export default NobleBindings;
}

declare module '@abandonware/noble/lib/hci-socket/gap.js' {
  import type { EventEmitter } from 'node:events';

  const Gap: new (
    hci: EventEmitter,
  ) => EventEmitter & {
    startScanning(allowDuplicates: boolean): void;
    stopScanning(): void;
    setScanParameters(interval?: number, window?: number): void;
  };
  export default Gap;
}
