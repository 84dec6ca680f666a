import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildZoneMap } from '../../drivers/wifi-presence/meraki.js';
import type { MerakiPost } from '../../drivers/wifi-presence/meraki-schema.js';
import { merakiBody } from '../../simulators/meraki.js';
import { DEMO_STORE_MAP, registryConfig, zonesConfig } from '../../simulators/store-map.js';
import { validateConfig } from '../../src/config/load.js';
import { GatewayError } from '../../src/errors.js';
import type { EventData, EventType } from '../../src/events/catalog.js';
import { EventFactory } from '../../src/events/envelope.js';
import { LaneIdentities, LinkStore } from '../../src/identity/links.js';
import { handleSignin, type SigninDeps } from '../../src/identity/signin-handler.js';
import { PresenceEngine } from '../../src/presence/engine.js';
import { BeaconHealth } from '../../src/presence/health.js';
import { toTuning } from '../../src/presence/module.js';
import { BeaconRegistry } from '../../src/presence/registry.js';
import { PresenceService } from '../../src/presence/service.js';
import { epochEndsAt, KeyStore } from '../../src/privacy/key-store.js';
import { Pseudonymizer } from '../../src/privacy/pseudonymizer.js';
import { tmpDir } from '../helpers/tmp.js';

const T0 = Date.parse('2026-11-24T10:00:00.000Z');
const MIN = 60_000;
const MAC = 'a4:83:e7:5c:0f:1d';
const dirs: { cleanup: () => void }[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) d.cleanup();
});

function pseudonymizer() {
  const dir = tmpDir('sg-identity-');
  dirs.push(dir);
  return new Pseudonymizer(new KeyStore({ file: join(dir.path, 'key.json'), rotateAtUtcHour: 0 }), {
    storeId: '0421',
    length: 16,
  });
}

type Identified = EventData<'retail.presence.identified.v1'>;

function signinDeps(over: Partial<SigninDeps> = {}) {
  let now = T0;
  const committed: Identified[] = [];
  const links = new LinkStore({ ttlMs: 240 * MIN, idleMs: 30 * MIN, max: 100 });
  const p = over.pseudonym ? undefined : pseudonymizer();
  const factory = new EventFactory({ storeId: '0421', gatewayId: 'gw' });
  const deps: SigninDeps = {
    required: ['presence'],
    pseudonym: (mac, t) => (p as Pseudonymizer).pseudonym('wifi', mac, t),
    loyaltyFor: (accountId) => ({ loyaltyId: accountId }),
    links,
    linkEnd: (t) => epochEndsAt(t, 0),
    now: () => now,
    commit: async (data, t) => {
      const ev = factory.create('retail.presence.identified.v1', 'presence', data, t); // validates
      committed.push(data);
      return { id: ev.id, seq: committed.length };
    },
    ...over,
  };
  return { deps, committed, links, setNow: (t: number) => (now = t), p };
}

const body = (over: Record<string, unknown> = {}) => ({
  accountId: 'LOY-0421-000042',
  mac: MAC,
  consent: true,
  consentScopes: ['presence', 'offers'],
  ...over,
});

describe('Wi-Fi sign-in: consent', () => {
  it('with consent: the MAC is hashed as presence hashes it, the event is committed, then the link made', async () => {
    const { deps, committed, links, p } = signinDeps();
    const answer = await handleSignin(body(), deps);
    const subject = (p as Pseudonymizer).pseudonym('wifi', 'a483e75c0f1d', T0).id;
    expect(answer).toEqual({
      status: 202,
      result: 'linked',
      body: {
        linked: true,
        subject,
        epoch: '2026-11-24',
        expiresAt: '2026-11-24T14:00:00.000Z',
        eventId: expect.any(String),
        seq: 1,
      },
    });
    expect(committed).toEqual([
      {
        subject,
        epoch: '2026-11-24',
        source: 'wifi',
        method: 'wifi-signin',
        randomized: false,
        consentScopes: ['presence', 'offers'],
        expiresAt: '2026-11-24T14:00:00.000Z',
        loyaltyId: 'LOY-0421-000042',
      },
    ]);
    expect(links.lookup(subject, T0 + MIN)?.loyalty).toEqual({ loyaltyId: 'LOY-0421-000042' });
    // The MAC is in nothing the sign-in produced or kept.
    const kept = JSON.stringify({ answer, committed, link: links.lookup(subject, T0 + MIN) });
    for (const form of [MAC, 'a483e75c0f1d', MAC.toUpperCase()]) expect(kept).not.toContain(form);
  });

  it('every MAC spelling gives the same subject; a randomized MAC is flagged', async () => {
    const { deps, committed } = signinDeps();
    await handleSignin(body({ mac: 'A4-83-E7-5C-0F-1D' }), deps);
    await handleSignin(body({ mac: 'a483e75c0f1d' }), deps);
    await handleSignin(body({ mac: '6a:83:e7:5c:0f:1d' }), deps);
    expect(committed[0]?.subject).toBe(committed[1]?.subject);
    expect(committed.map((c) => c.randomized)).toEqual([false, false, true]);
  });

  it('without consent: nothing is linked, stored or emitted', async () => {
    const { deps, committed, links } = signinDeps();
    expect(await handleSignin(body({ consent: false }), deps)).toEqual({
      status: 200,
      result: 'no-consent',
      body: { linked: false, reason: 'no-consent' },
    });
    expect(await handleSignin(body({ consentScopes: ['offers'] }), deps)).toEqual({
      status: 200,
      result: 'no-consent',
      body: { linked: false, reason: 'missing-scope' },
    });
    expect(await handleSignin(body({ consentScopes: undefined }), deps)).toMatchObject({
      result: 'no-consent',
    });
    expect(committed).toEqual([]);
    expect(links.size).toBe(0);
  });

  it('consent withdrawn: a later sign-in without consent ends the link', async () => {
    const { deps, links, committed } = signinDeps();
    const linked = await handleSignin(body(), deps);
    expect(links.size).toBe(1);
    expect(await handleSignin(body({ consent: false }), deps)).toEqual({
      status: 200,
      result: 'withdrawn',
      body: { linked: false, reason: 'no-consent', unlinked: true },
    });
    expect(links.lookup(linked.body.subject as string, T0)).toBeUndefined();
    expect(committed).toHaveLength(1);
  });

  it('a refused commit (full buffer) leaves no link', async () => {
    const { deps, links } = signinDeps({
      commit: async () => {
        throw new GatewayError('GW_ERR_BUFFER_FULL');
      },
    });
    await expect(handleSignin(body(), deps)).rejects.toMatchObject({ code: 'GW_ERR_BUFFER_FULL' });
    expect(links.size).toBe(0);
  });

  it('an invalid body is refused with the failing paths, never the values', async () => {
    const { deps } = signinDeps();
    const bad = body({ mac: `${MAC}:00`, accountId: '', extra: 1 });
    const err = await handleSignin(bad, deps).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GatewayError);
    expect((err as GatewayError).code).toBe('GW_ERR_REQUEST_INVALID');
    const paths = [
      ...new Set(((err as GatewayError).details as { path: string }[]).map((i) => i.path)),
    ].sort();
    expect(paths).toEqual(['/', '/accountId', '/mac']);
    const text = JSON.stringify({ message: (err as Error).message, details: (err as GatewayError).details });
    expect(text).not.toContain('a4:83');
    expect(text).not.toContain('a483e7');
  });
});

describe('links expire (injected clock)', () => {
  it('at the TTL after the sign-in, even while the device is seen', () => {
    const links = new LinkStore({ ttlMs: 240 * MIN, idleMs: 30 * MIN, max: 10 });
    links.link('s1', { loyaltyId: 'L1' }, T0);
    for (let t = T0; t < T0 + 240 * MIN; t += 10 * MIN)
      expect(links.lookup('s1', t), String(t)).toBeDefined();
    expect(links.lookup('s1', T0 + 240 * MIN)).toBeUndefined();
    expect(links.size).toBe(0);
  });

  it('when presence has not asked for the device for idleMin', () => {
    const links = new LinkStore({ ttlMs: 240 * MIN, idleMs: 30 * MIN, max: 10 });
    links.link('s1', { loyaltyId: 'L1' }, T0);
    expect(links.lookup('s1', T0 + 29 * MIN)).toBeDefined();
    expect(links.lookup('s1', T0 + 58 * MIN)).toBeDefined(); // refreshed at +29
    expect(links.lookup('s1', T0 + 88 * MIN + 1)).toBeUndefined();
  });

  it('at the end of the key day at the latest (the pseudonym changes then)', async () => {
    const links = new LinkStore({ ttlMs: 240 * MIN, idleMs: 240 * MIN, max: 10 });
    const { deps, setNow } = signinDeps({ links });
    const late = Date.parse('2026-11-24T22:30:00.000Z');
    setNow(late);
    const a = await handleSignin(body(), deps);
    expect(a.body.expiresAt).toBe('2026-11-25T00:00:00.000Z');
    expect(links.lookup(a.body.subject as string, Date.parse('2026-11-24T23:59:59.000Z'))).toBeDefined();
    expect(links.purge(Date.parse('2026-11-25T00:00:00.000Z'))).toBe(1);
  });

  it('the oldest link goes first when the store is full; purge removes only expired ones', () => {
    const links = new LinkStore({ ttlMs: 10 * MIN, idleMs: 10 * MIN, max: 2 });
    links.link('a', { loyaltyId: 'A' }, T0);
    links.link('b', { loyaltyId: 'B' }, T0 + MIN);
    links.link('c', { loyaltyId: 'C' }, T0 + 2 * MIN);
    expect([links.lookup('a', T0 + 2 * MIN), links.lookup('b', T0 + 2 * MIN)?.subject]).toEqual([
      undefined,
      'b',
    ]);
    expect(links.purge(T0 + 11 * MIN + 1)).toBe(1); // b (its idle time was refreshed at +2 min: 10 min after that is +12)
    expect(links.purge(T0 + 13 * MIN)).toBe(1);
    expect(links.size).toBe(0);
  });

  it('lane identities are held for laneHoldSec, replaced by the next shopper, deleted by the lane', () => {
    const lanes = new LaneIdentities(300_000);
    const who = {
      loyaltyId: 'L1',
      method: 'app' as const,
      scheme: 'loyalty-app',
      deviceId: 'lane-1-scanner',
      at: T0,
    };
    lanes.set('lane-1', who);
    expect(lanes.get('lane-1', T0 + 299_999)).toEqual(who);
    expect(lanes.get('lane-1', T0 + 300_000)).toBeUndefined();
    lanes.set('lane-1', who);
    lanes.set('lane-1', { ...who, loyaltyId: 'L2' });
    expect(lanes.get('lane-1', T0)?.loyaltyId).toBe('L2');
    expect(lanes.delete('lane-1')).toBe(true);
    expect(lanes.get('lane-1', T0)).toBeUndefined();
  });
});

describe('presence events of a linked device carry the loyalty id', () => {
  it('a Meraki sighting of the signed-in phone enters with loyaltyId; another phone does not', async () => {
    const dir = tmpDir('sg-identity-presence-');
    dirs.push(dir);
    const checked = validateConfig({
      store: { id: '0421' },
      gateway: { id: 'gw' },
      buffer: { path: join(dir.path, 'buffer.db') },
      zones: zonesConfig(DEMO_STORE_MAP),
      registry: registryConfig(DEMO_STORE_MAP),
    });
    if (!checked.ok) throw new Error(JSON.stringify(checked.issues));
    const config = checked.config;
    const p = new Pseudonymizer(new KeyStore({ file: join(dir.path, 'key.json'), rotateAtUtcHour: 0 }), {
      storeId: '0421',
      length: 16,
    });
    const links = new LinkStore({ ttlMs: 240 * MIN, idleMs: 30 * MIN, max: 100 });
    const factory = new EventFactory({ storeId: '0421', gatewayId: 'gw' });
    const events: { type: EventType; data: Record<string, unknown> }[] = [];
    const registry = new BeaconRegistry(config.registry);
    const service = new PresenceService({
      engine: new PresenceEngine({
        ble: toTuning(config.presence.ble),
        wifi: toTuning(config.presence.wifi),
        dwellEveryMs: 0,
        maxSubjects: 100,
      }),
      registry,
      health: new BeaconHealth(registry.beacons, { batteryLowMv: 2500, missingAfterMs: 600_000 }, T0),
      pseudonymizer: p,
      presence: config.presence,
      ignoreRandomized: false,
      identify: (subject, source, now) =>
        source === 'wifi' ? links.lookup(subject, now)?.loyalty : undefined,
      emit: (device, type, data, time) => {
        factory.create(type, device, data, time); // the loyalty fields are in the published schema
        events.push({ type, data: data as Record<string, unknown> });
      },
    });
    const { deps } = signinDeps({ pseudonym: (mac, t) => p.pseudonym('wifi', mac, t) });
    deps.links = links;
    const signed = await handleSignin(body(), deps);
    const ap = DEMO_STORE_MAP.accessPoints[3]?.mac as string;
    const other = '3c:22:fb:00:00:01';
    const post = merakiBody(
      [
        { mac: MAC, position: [15, 12], rssi: { [ap]: 45 }, time: T0 },
        { mac: other, position: [15, 12], rssi: { [ap]: 45 }, time: T0 },
      ],
      { secret: 's', type: 'WiFi' },
    ) as unknown as MerakiPost;
    service.meraki(post, { zones: buildZoneMap(config.zones), zoneBy: 'auto', noiseFloorDbm: -95 }, T0);
    const enters = events.filter((e) => e.type === 'retail.presence.enter.v1');
    expect(enters).toHaveLength(2);
    const mine = enters.find((e) => e.data.subject === signed.body.subject);
    expect(mine?.data.loyaltyId).toBe('LOY-0421-000042');
    const theirs = enters.find((e) => e.data.subject !== signed.body.subject);
    expect(theirs?.data).not.toHaveProperty('loyaltyId');
    // After the link expires, the same phone is anonymous again.
    service.tick(T0 + 241 * MIN);
    const exit = events.find(
      (e) => e.type === 'retail.presence.exit.v1' && e.data.subject === signed.body.subject,
    );
    expect(exit?.data).not.toHaveProperty('loyaltyId');
  });
});
