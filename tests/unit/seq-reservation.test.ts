import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SeqReservation } from '../../src/buffer/seq-reservation.js';
import { tmpDir } from '../helpers/tmp.js';

const BLOCK = SeqReservation.BLOCK;
const dirs: { cleanup: () => void }[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) d.cleanup();
});

function seqFile(): string {
  const dir = tmpDir('sg-seq-');
  dirs.push(dir);
  return join(dir.path, 'buffer.db.seq');
}

describe('SeqReservation', () => {
  it('starts at 0 without a file, and writes nothing until asked', () => {
    const file = seqFile();
    const r = new SeqReservation(file);
    expect(r.reserved).toBe(0);
    r.ensure(0);
    expect(existsSync(file)).toBe(false);
  });

  it('reserves a whole block beyond the seq asked for, durably in the file', () => {
    const file = seqFile();
    const r = new SeqReservation(file);
    r.ensure(1);
    expect(r.reserved).toBe(1 + BLOCK);
    expect(readFileSync(file, 'utf8')).toBe(`${1 + BLOCK}\n`);
    expect(SeqReservation.read(file)).toBe(1 + BLOCK);
    // The temporary file of the atomic write is gone.
    expect(readdirSync(join(file, '..'))).toEqual(['buffer.db.seq']);
  });

  it('does not rewrite the file while the seq stays inside the reserved block', () => {
    const file = seqFile();
    const r = new SeqReservation(file);
    r.ensure(10);
    writeFileSync(file, 'marker');
    r.ensure(10 + BLOCK);
    expect(readFileSync(file, 'utf8')).toBe('marker');
    r.ensure(11 + BLOCK);
    expect(r.reserved).toBe(11 + 2 * BLOCK);
    expect(SeqReservation.read(file)).toBe(11 + 2 * BLOCK);
  });

  it('continues from the file written by an earlier run', () => {
    const file = seqFile();
    new SeqReservation(file).ensure(500);
    const later = new SeqReservation(file);
    expect(later.reserved).toBe(500 + BLOCK);
    later.ensure(400);
    expect(SeqReservation.read(file)).toBe(500 + BLOCK);
  });

  it.each([
    ['missing', null],
    ['empty', ''],
    ['garbage', 'not a number\n'],
    ['binary', '\u0000\u0001\u0002'],
    ['negative', '-5\n'],
    ['fractional', '12.5\n'],
    ['unsafe', '9007199254740993\n'],
  ])('reads a %s file as 0', (_, content) => {
    const file = seqFile();
    if (content !== null) writeFileSync(file, content);
    expect(SeqReservation.read(file)).toBe(0);
    expect(new SeqReservation(file).reserved).toBe(0);
  });

  it('reads a value without a trailing newline or with spaces', () => {
    const file = seqFile();
    writeFileSync(file, '  42 ');
    expect(SeqReservation.read(file)).toBe(42);
  });

  it('recovers from a garbage file by reserving again', () => {
    const file = seqFile();
    writeFileSync(file, 'garbage');
    const r = new SeqReservation(file);
    r.ensure(7);
    expect(SeqReservation.read(file)).toBe(7 + BLOCK);
  });
});
