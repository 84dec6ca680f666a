export {
  type BleAddressKind,
  bleAddressKind,
  isRandomizedBle,
  isRandomizedMac,
  normalizeAddress,
} from './address.js';
export { type EpochKey, epochEndsAt, epochOf, KeyStore, type KeyStoreOptions } from './key-store.js';
export { type KeySource, type Pseudonym, Pseudonymizer, type SubjectNamespace } from './pseudonymizer.js';
