export {
  type AdStructure,
  advertisementFromAd,
  type BleAdvertisement,
  encodeAdvertisement,
  parseAdStructures,
} from './ad.js';
export { BleBeaconsConfig } from './config.js';
export { BleBeaconsDriver } from './driver.js';
export {
  advertisedRssiAt1m,
  type BeaconFrame,
  type FrameError,
  parseAltBeacon,
  parseBeacon,
  parseEddystone,
  parseIBeacon,
} from './frames.js';
export type { BleReading, BleSink } from './reading.js';
export {
  formatRecordingLine,
  parseRecordingLine,
  type RecordedAdvertisement,
  RecordingWriter,
  replayTransport,
} from './recording.js';
export { type AdvertisingReport, ReportBindings } from './report-bindings.js';
export { type BleTransport, nobleHciTransport, type OpenedBindings } from './transport.js';
