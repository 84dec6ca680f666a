import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  bleAddressKind,
  epochEndsAt,
  epochOf,
  isRandomizedBle,
  isRandomizedMac,
  KeyStore,
  normalizeAddress,
  Pseudonymizer,
} from '../../src/privacy/index.js';
import { tmpDir } from '../helpers/tmp.js';

const DAY1 = Date.parse('2026-11-24T10:00:00.000Z');
const DAY2 = Date.parse('2026-11-25T10:00:00.000Z');
const dirs: { cleanup: () => void }[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) d.cleanup();
});

function keyFile(): string {
  const dir = tmpDir('sg-privacy-');
  dirs.push(dir);
  return join(dir.path, 'state', 'presence-key.json');
}

describe('address classification', () => {
  it('flags locally administered (randomized) Wi-Fi MACs: second hex digit 2, 6, A or E', () => {
    for (const mac of ['02:00:00:00:00:01', '16:aa:bb:cc:dd:ee', 'DA-A1-19-00-00-01', 'fe:ff:ff:ff:ff:ff']) {
      expect(isRandomizedMac(mac), mac).toBe(true);
    }
    for (const mac of ['00:1a:2b:3c:4d:5e', 'f0:18:98:00:00:01', '3c:22:fb:00:00:00', 'not a mac']) {
      expect(isRandomizedMac(mac), mac).toBe(false);
    }
  });

  it('classifies BLE addresses by type and top bits', () => {
    expect(bleAddressKind('c4:7c:8d:00:00:01', 'public')).toBe('public');
    expect(bleAddressKind('c4:7c:8d:00:00:01', 'random')).toBe('random-static');
    expect(bleAddressKind('4a:7c:8d:00:00:01', 'random')).toBe('random-resolvable');
    expect(bleAddressKind('3a:7c:8d:00:00:01', 'random')).toBe('random-non-resolvable');
    expect(isRandomizedBle('4a:7c:8d:00:00:01', 'random')).toBe(true);
    expect(isRandomizedBle('d4:7c:8d:00:00:01', 'random')).toBe(false);
    expect(isRandomizedBle('4a:7c:8d:00:00:01', 'public')).toBe(false);
  });

  it('normalizes separators and case', () => {
    expect(normalizeAddress('AA-BB-CC-DD-EE-FF')).toBe('aabbccddeeff');
    expect(normalizeAddress('aabb.ccdd.eeff')).toBe('aabbccddeeff');
    expect(normalizeAddress('aa:bb')).toBe('');
  });
});

describe('key periods', () => {
  it('a period is a UTC day starting at rotateAtUtcHour', () => {
    expect(epochOf(Date.parse('2026-11-24T00:30:00Z'), 0)).toBe('2026-11-24');
    expect(epochOf(Date.parse('2026-11-24T02:59:00Z'), 3)).toBe('2026-11-23');
    expect(epochOf(Date.parse('2026-11-24T03:00:00Z'), 3)).toBe('2026-11-24');
    expect(epochEndsAt(Date.parse('2026-11-24T10:00:00Z'), 3)).toBe(Date.parse('2026-11-25T03:00:00Z'));
  });
});

describe('KeyStore', () => {
  it('creates the key file with mode 0600 and reuses the day’s key after a restart', () => {
    const file = keyFile();
    const first = new KeyStore({ file, rotateAtUtcHour: 0 });
    const k1 = Buffer.from(first.keyFor(DAY1).key);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    first.close();
    const again = new KeyStore({ file, rotateAtUtcHour: 0 });
    expect(again.keyFor(DAY1 + 3_600_000).key.equals(k1)).toBe(true);
    expect(again.lastError).toBeUndefined();
  });

  it('rotates daily: the new key replaces the old one in the file, and the old one is zeroed in memory', () => {
    const file = keyFile();
    const store = new KeyStore({ file, rotateAtUtcHour: 0 });
    const day1 = store.keyFor(DAY1);
    const old = Buffer.from(day1.key);
    const day2 = store.keyFor(DAY2);
    expect(day2.epoch).toBe('2026-11-25');
    expect(day2.key.equals(old)).toBe(false);
    expect(day1.key.every((b) => b === 0)).toBe(true);
    const onDisk = readFileSync(file, 'utf8');
    expect(onDisk).not.toContain(old.toString('base64'));
    expect(JSON.parse(onDisk)).toEqual({ version: 1, epoch: '2026-11-25', key: day2.key.toString('base64') });
    expect(store.rotations).toBe(1);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('a key file of another day is not reused', () => {
    const file = keyFile();
    const a = new KeyStore({ file, rotateAtUtcHour: 0 }).keyFor(DAY1);
    const b = new KeyStore({ file, rotateAtUtcHour: 0 }).keyFor(DAY2);
    expect(b.key.equals(a.key)).toBe(false);
  });

  it('keeps working in memory when the file cannot be written', () => {
    const blocker = keyFile().replace(/state\/presence-key\.json$/, 'blocker');
    writeFileSync(blocker, 'a file where a directory should be');
    const store = new KeyStore({ file: join(blocker, 'key.json'), rotateAtUtcHour: 0 });
    expect(store.keyFor(DAY1).key).toHaveLength(32);
    expect(store.lastError).toBeTruthy();
  });
});

describe('Pseudonymizer', () => {
  const make = (file: string, length = 16) =>
    new Pseudonymizer(new KeyStore({ file, rotateAtUtcHour: 0 }), { storeId: '0421', length });

  it('HMAC-SHA256, truncated, stable within a day, different the next day and per namespace', () => {
    const p = make(keyFile());
    const a = p.pseudonym('wifi', 'aabbccddeeff', DAY1);
    expect(a.id).toMatch(/^[0-9a-f]{16}$/);
    expect(a.epoch).toBe('2026-11-24');
    expect(p.pseudonym('wifi', 'aabbccddeeff', DAY1 + 1000).id).toBe(a.id);
    expect(p.pseudonym('ble', 'aabbccddeeff', DAY1).id).not.toBe(a.id);
    expect(p.pseudonym('wifi', 'aabbccddeef0', DAY1).id).not.toBe(a.id);
    const next = p.pseudonym('wifi', 'aabbccddeeff', DAY2);
    expect(next.id).not.toBe(a.id);
    expect(next.epoch).toBe('2026-11-25');
    expect(a.id).not.toContain('aabbcc');
  });

  it('two stores never share pseudonyms, even with the same key file', () => {
    const file = keyFile();
    const keys = new KeyStore({ file, rotateAtUtcHour: 0 });
    const s1 = new Pseudonymizer(keys, { storeId: '0421', length: 32 }).pseudonym(
      'wifi',
      'aabbccddeeff',
      DAY1,
    );
    const s2 = new Pseudonymizer(keys, { storeId: '0422', length: 32 }).pseudonym(
      'wifi',
      'aabbccddeeff',
      DAY1,
    );
    expect(s1.id).toHaveLength(32);
    expect(s1.id).not.toBe(s2.id);
  });
});
