export { SerialScannerConfig } from './config.js';
export { SerialScannerDriver } from './driver.js';
export { nodeSerialTransport, type SerialTransport } from './transport.js';
