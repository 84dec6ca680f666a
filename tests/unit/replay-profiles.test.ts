import { describe, expect, it } from 'vitest';
import type { Framing } from '../../drivers/serial-scanner/config.js';
import { decodeScan } from '../../drivers/serial-scanner/decode.js';
import { Framer } from '../../drivers/serial-scanner/framer.js';
import {
  profileDevice,
  profileScanner,
  SERIAL_PROFILE_NAMES,
  SERIAL_PROFILES,
} from '../../simulators/profiles.js';
import { SimulatedSerialScanner } from '../../simulators/serial-scanner.js';
import { SimulatedSsiScanner } from '../../simulators/ssi-scanner.js';
import { validateConfig } from '../../src/config/load.js';

/** Vendor profiles: the simulator's bytes and the device entry that reads them must agree. */
describe('serial vendor profiles', () => {
  it.each(SERIAL_PROFILE_NAMES)('%s: the device entry validates', (name) => {
    const r = validateConfig({
      store: { id: 's' },
      gateway: { id: 'g' },
      devices: [profileDevice(name, 'lane-1', '/dev/ttyUSB0')],
    });
    expect(r.ok ? [] : r.issues).toEqual([]);
  });

  it.each(SERIAL_PROFILE_NAMES.filter((n) => n !== 'zebra-ssi'))(
    '%s: the device config frames and decodes what the simulator sends',
    (name) => {
      const scanner = profileScanner(name, '/tmp/unused') as SimulatedSerialScanner;
      expect(scanner).toBeInstanceOf(SimulatedSerialScanner);
      const device = profileDevice(name, 'lane-1', '/dev/ttyUSB0') as { framing: Framing; aim: boolean };
      const framer = new Framer(device.framing, 4096);
      const code = { text: '4006381333931', aim: ']E0' };
      const frames = [...framer.push(scanner.frame(code)), ...framer.flush()];
      expect(frames).toHaveLength(1);
      const f = frames[0];
      const decoded = f?.ok ? decodeScan(f.frame, { aim: device.aim }) : undefined;
      expect(decoded?.ok && decoded.value.text).toBe('4006381333931');
    },
  );

  it('zebra-ssi is the SSI simulator with protocol: ssi', () => {
    expect(profileScanner('zebra-ssi', '/tmp/unused')).toBeInstanceOf(SimulatedSsiScanner);
    expect(SERIAL_PROFILES['zebra-ssi'].device).toMatchObject({ protocol: 'ssi' });
  });
});
