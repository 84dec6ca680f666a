export { formatDescriptor, formatEntry, parseRecording, type Recording } from './format.js';
export { ReplayHidDevice, replayHidTransport, tapHidTransport } from './hid.js';
export { loadRecording, play } from './player.js';
export { Recorder } from './recorder.js';
export { ReplaySerialPort, replaySerialTransport, tapSerialTransport } from './serial.js';
