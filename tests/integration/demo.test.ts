import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';

const LANES = ['lane-1-scanner', 'lane-2-scanner', 'lane-3-scanner'];

/** `store-gateway demo` as a person runs it: the bin script, free ports, a state dir of its own. */
function demo(dir: string, ...extra: string[]) {
  const args = ['demo', '--duration', '8', '--mqtt-port', '0', '--api-port', '0', '--dir', dir];
  return runCli([...args, '--lanes', '3', '--rate', '5', ...extra], { timeoutMs: 60_000 });
}

/** One tail line per event: `HH:MM:SS.mmm 0421/demo-gw #seq type device  what`. */
const EVENT_LINE = /^\d\d:\d\d:\d\d\.\d{3} 0421\/demo-gw #(\d+) (\S+) (\S+) {2}(.*)$/;

function summary(stderr: string) {
  const m = /^central received (\d+) events: (\d+) invalid, (\d+) duplicates, (\d+) missing$/m.exec(stderr);
  return m
    ? { received: Number(m[1]), invalid: Number(m[2]), duplicates: Number(m[3]), missing: Number(m[4]) }
    : null;
}

function expectBanner(stderr: string, dir: string) {
  expect(stderr).toContain('store-gateway demo: a simulated store');
  expect(stderr).toMatch(/^ {2}broker {5}mqtt:\/\/127\.0\.0\.1:\d+ \(embedded, MQTT 3\.1\.1\)/m);
  expect(stderr).toMatch(/^ {2}local API {2}http:\/\/127\.0\.0\.1:\d+\/v1\/status/m);
  expect(stderr).toContain(`  buffer     ${dir}/buffer.db`);
  for (const lane of LANES) expect(stderr).toContain(`  ${lane.padEnd(15)} ${dir}/dev/${lane}`);
  expect(stderr).toContain('stops after 8 s');
}

describe('store-gateway demo', () => {
  const dirs: ReturnType<typeof tmpDir>[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) d.cleanup();
  });

  it('runs a simulated store with a live tail and exits 0 with a clean summary', async () => {
    const dir = tmpDir('sg-demo-');
    dirs.push(dir);
    const r = await demo(dir.path);
    expect(r.code, r.stderr).toBe(0);
    expectBanner(r.stderr, dir.path);

    const lines = r.stdout.split('\n').filter((l) => l.trim() !== '');
    const events = lines.map((l) => EVENT_LINE.exec(l)).filter((m) => m !== null);
    for (const lane of LANES) {
      expect(
        events.some((m) => m[2] === 'scan' && m[3] === lane),
        `a scan from ${lane}`,
      ).toBe(true);
      expect(
        events.some((m) => m[2] === 'device.status' && m[3] === lane && m[4]?.startsWith('connected')),
        `${lane} connected`,
      ).toBe(true);
    }
    // Nothing the tail flagged: no INVALID, duplicate or gap markers.
    expect(lines.filter((l) => /INVALID|duplicate|gap of/.test(l))).toEqual([]);
    // The retained state topic shows the gateway online.
    expect(lines).toContain('state 0421/demo-gw online birth 1');
    const seqs = events.map((m) => Number(m[1]));
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));

    // The identification step (docs/IDENTITY.md): she signs in on Wi-Fi, her app code is scanned at
    // lane 2, the lane fetches her offer, her coupon is scanned, and the transaction carries her id.
    const seqOf = (type: string, device: string) => events.find((m) => m[2] === type && m[3] === device)?.[1];
    expect(seqOf('presence.identified', 'presence'), 'a Wi-Fi sign-in').toBeDefined();
    const identified = Number(seqOf('loyalty.identified', 'lane-2-scanner'));
    const coupon = Number(seqOf('coupon.scanned', 'lane-2-scanner'));
    expect(identified, 'the app code identified her at lane 2').toBeGreaterThan(0);
    expect(coupon, 'her coupon at lane 2').toBeGreaterThan(identified);
    expect(
      events.some(
        (m) =>
          m[2] === 'pos.transaction' &&
          m[3] === 'lane-2' &&
          Number(m[1]) > identified &&
          /\bloyalty\b/.test(m[4] ?? ''),
      ),
      'a lane-2 transaction with a loyalty id after she was identified',
    ).toBe(true);
    expect(r.stderr).toMatch(
      /^identity: [1-9]\d* app checkouts, [1-9]\d* transactions with her loyalty id, [1-9]\d* with her offer; [1-9]\d* Wi-Fi sign-ins linked/m,
    );

    const s = summary(r.stderr);
    expect(s).not.toBeNull();
    expect(s).toMatchObject({ invalid: 0, duplicates: 0, missing: 0 });
    expect(s?.received).toBeGreaterThan(0);
    expect(s?.received).toBe(events.length);
  }, 60_000);

  it('--no-tail prints no events on stdout', async () => {
    const dir = tmpDir('sg-demo-');
    dirs.push(dir);
    const r = await demo(dir.path, '--no-tail');
    expect(r.code, r.stderr).toBe(0);
    expectBanner(r.stderr, dir.path);
    expect(r.stdout).toBe('');
    const s = summary(r.stderr);
    expect(s).toMatchObject({ invalid: 0, duplicates: 0, missing: 0 });
    expect(s?.received).toBeGreaterThan(0);
  }, 60_000);
});
