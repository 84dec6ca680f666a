export { HidScannerConfig } from './config.js';
export { HidScannerDriver } from './driver.js';
export { type HidTransport, nodeHidTransport } from './transport.js';
