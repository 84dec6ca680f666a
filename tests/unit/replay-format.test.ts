import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import {
  formatDescriptor,
  formatEntry,
  parseRecording,
  type RecordingError,
} from '../../src/replay/format.js';
import { replayHidTransport } from '../../src/replay/hid.js';
import { play } from '../../src/replay/player.js';
import { Recorder } from '../../src/replay/recorder.js';
import { replaySerialTransport } from '../../src/replay/serial.js';
import { tmpDir } from '../helpers/tmp.js';

describe('recording format', () => {
  it('writes one JSON object a line: {"t", "hex"} and once {"descriptor"}', () => {
    expect(formatEntry(12, Buffer.of(0x34, 0x30, 0x0d, 0x0a))).toBe('{"t":12,"hex":"34300d0a"}\n');
    expect(formatDescriptor(Buffer.of(0x06, 0x8c, 0x00))).toBe('{"descriptor":"068c00"}\n');
  });

  it('parses what it writes; blank lines are ignored', () => {
    const text = `${formatDescriptor(Buffer.of(1, 2))}\n${formatEntry(0, Buffer.of(0xff))}${formatEntry(5.5, Buffer.alloc(0))}`;
    expect(parseRecording(text)).toEqual({
      ok: true,
      value: {
        descriptor: Buffer.of(1, 2),
        entries: [
          { t: 0, data: Buffer.of(0xff) },
          { t: 5.5, data: Buffer.alloc(0) },
        ],
      },
    });
  });

  it.each([
    ['{"t":0,"hex":"00"}\nnot json', 'bad-json', 'line 2'],
    ['[1,2]', 'bad-line', 'line 1: not an object'],
    ['{"t":0}', 'bad-line', 'line 1: needs "hex" (or "descriptor")'],
    ['{"t":0,"hex":"0g"}', 'bad-hex', 'line 1'],
    ['{"t":0,"hex":"abc"}', 'bad-hex', 'line 1'],
    ['{"t":-1,"hex":"00"}', 'bad-time', 'line 1: "t" must be ms ≥ 0'],
    ['{"hex":"00"}', 'bad-time', 'line 1: "t" must be ms ≥ 0'],
    ['{"descriptor":"xyz"}', 'bad-hex', 'line 1: descriptor'],
  ])('%j → %s', (text, error, detail) => {
    expect(parseRecording(text)).toEqual({ ok: false, error, detail });
  });

  it('round-trips any chunks', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(100_000), fc.uint8Array({ maxLength: 64 }))), (entries) => {
        const text = entries.map(([t, d]) => formatEntry(t, d)).join('');
        const parsed = parseRecording(text);
        expect(parsed.ok && parsed.value.entries.map((e) => [e.t, [...e.data]])).toEqual(
          entries.map(([t, d]) => [t, [...d]]),
        );
      }),
      { numRuns: 500 },
    );
  });

  it('never throws on random text; every failure is typed', () => {
    const errors: ReadonlySet<RecordingError> = new Set(['bad-json', 'bad-line', 'bad-hex', 'bad-time']);
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json()), (text) => {
        const r = parseRecording(text);
        if (!r.ok) expect(errors.has(r.error)).toBe(true);
      }),
      { numRuns: 10_000 },
    );
  });
});

describe('Recorder and replay transports', () => {
  let dir: ReturnType<typeof tmpDir> | undefined;
  afterEach(() => dir?.cleanup());

  it('records the descriptor once, first, then every chunk with its time', () => {
    dir = tmpDir();
    const path = join(dir.path, 'r.jsonl');
    const rec = new Recorder(path);
    rec.descriptor(Buffer.of(1));
    rec.chunk(Buffer.of(2));
    rec.descriptor(Buffer.of(3));
    rec.chunk(Buffer.of(4, 5));
    rec.close();
    const parsed = parseRecording(readFileSync(path, 'utf8'));
    expect(parsed.ok && parsed.value.descriptor).toEqual(Buffer.of(1));
    expect(parsed.ok && parsed.value.entries.map((e) => [...e.data])).toEqual([[2], [4, 5]]);
    expect(rec.chunks).toBe(2);
    expect(rec.bytes).toBe(3);
  });

  it('plays entries in order, honouring t, and stops on abort', async () => {
    const got: number[] = [];
    const abort = new AbortController();
    const entries = [0, 20, 40].map((t, i) => ({ t, data: Buffer.of(i) }));
    await play(entries, 1, (d) => got.push(d[0] as number), abort.signal);
    expect(got).toEqual([0, 1, 2]);
    abort.abort();
    await play(entries, 0, (d) => got.push(d[0] as number), abort.signal);
    expect(got).toEqual([0, 1, 2]);
  });

  it('a replay serial port delivers chunks once read, then stays open; a replay HID device gives its descriptor', async () => {
    dir = tmpDir();
    const path = join(dir.path, 'r.jsonl');
    const rec = new Recorder(path);
    rec.descriptor(Buffer.of(9, 9));
    rec.chunk(Buffer.from('ab'));
    rec.chunk(Buffer.from('c'));
    rec.close();
    const serial = replaySerialTransport({ speed: 0 });
    const port = await serial.open({
      path,
      baudRate: 9600,
      dataBits: 8,
      parity: 'none',
      stopBits: 1,
      rtscts: false,
    });
    const chunks: string[] = [];
    port.on('data', (c) => chunks.push(c.toString()));
    await serial.ports[0]?.done;
    expect(chunks).toEqual(['ab', 'c']);
    port.write(Buffer.of(4));
    expect(serial.ports[0]?.written).toEqual([Buffer.of(4)]);
    await port.close();
    const hid = replayHidTransport({ speed: 0 });
    const dev = await hid.open(path);
    expect(await dev.getReportDescriptor()).toEqual(Buffer.of(9, 9));
    const reports: string[] = [];
    dev.on('data', (r) => reports.push(r.toString()));
    await hid.devices[0]?.done;
    expect(reports).toEqual(['ab', 'c']);
    await dev.close();
    await expect(serial.open({ path: join(dir.path, 'missing.jsonl') } as never)).rejects.toThrow(
      /cannot read/,
    );
  });
});
