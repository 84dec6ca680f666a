import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  buildSsiFrame,
  describeCodeType,
  hostAck,
  hostNak,
  NAK_CAUSE,
  SSI_OPCODE,
  SSI_SOURCE,
  SSI_STATUS,
  SsiFrameParser,
  ssiChecksum,
} from '../../drivers/serial-scanner/ssi.js';
import { type SsiAction, type SsiError, SsiSession } from '../../drivers/serial-scanner/ssi-session.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const show = (b: Buffer) => b.toString('hex').replace(/(..)/g, '$1 ').trim().toUpperCase();

/** DECODE_DATA from the decoder: code type then the barcode bytes. */
const decodeData = (text: string, o: { code?: number; status?: number } = {}) =>
  buildSsiFrame({
    opcode: SSI_OPCODE.decodeData,
    source: SSI_SOURCE.decoder,
    status: o.status ?? 0,
    data: Buffer.concat([Buffer.of(o.code ?? 0x0b), Buffer.from(text, 'latin1')]),
  });

function summary(actions: SsiAction[]): string[] {
  return actions.map((a) => {
    if (a.type === 'write') return `write ${show(a.bytes)}`;
    if (a.type === 'scan') return `scan ${a.reading.symbology} ${JSON.stringify(a.reading.text)}`;
    if (a.type === 'error') return `error ${a.error}`;
    if (a.type === 'nak') return `nak ${a.cause}`;
    if (a.type === 'message') return `message 0x${a.frame.opcode.toString(16)}`;
    return a.type;
  });
}

describe('SSI frames, byte-exact', () => {
  it('the host ACK is 04 D0 04 00 FF 28', () => {
    expect(show(hostAck())).toBe('04 D0 04 00 FF 28');
  });

  it('NAK RESEND, NAK BAD_CONTEXT', () => {
    expect(show(hostNak(NAK_CAUSE.resend))).toBe('05 D1 04 00 01 FF 25');
    expect(show(hostNak(NAK_CAUSE.badContext))).toBe('05 D1 04 00 02 FF 24');
  });

  it('host commands: BEEP, SCAN_ENABLE, SCAN_DISABLE', () => {
    const host = (opcode: number, data?: number[]) =>
      show(
        buildSsiFrame({ opcode, source: SSI_SOURCE.host, ...(data ? { data: Uint8Array.from(data) } : {}) }),
      );
    expect(host(SSI_OPCODE.beep, [0])).toBe('05 E6 04 00 00 FF 11');
    expect(host(SSI_OPCODE.scanEnable)).toBe('04 E9 04 00 FF 0F');
    expect(host(SSI_OPCODE.scanDisable)).toBe('04 EA 04 00 FF 0E');
  });

  it('DECODE_DATA with code type, and the checksum as the two’s complement of the 16-bit sum', () => {
    expect(show(decodeData('123'))).toBe('08 F3 00 00 0B 31 32 33 FE 64');
    expect(ssiChecksum(hex('08 F3 00 00 0B 31 32 33'))).toBe(0xfe64);
    // Sum + checksum is 0 modulo 2^16 for every frame.
    const f = decodeData('4006381333931');
    const sum =
      [...f.subarray(0, -2)].reduce((s, b) => s + b, 0) + ((f.at(-2) as number) << 8) + (f.at(-1) as number);
    expect(sum % 0x10000).toBe(0);
  });

  it('refuses data longer than one frame', () => {
    expect(() => buildSsiFrame({ opcode: 0xf3, source: 0, data: new Uint8Array(252) })).toThrow(RangeError);
  });

  it('names code types', () => {
    expect(describeCodeType(0x0b)).toBe('ean-13');
    expect(describeCodeType(0x03)).toBe('code-128');
    expect(describeCodeType(0x0f)).toBe('gs1-128');
    expect(describeCodeType(0x1c)).toBe('qr');
    expect(describeCodeType(0x1b)).toBe('datamatrix');
    expect(describeCodeType(0xee)).toBe('ssi-0xee');
  });
});

describe('SsiFrameParser', () => {
  it('cuts frames across chunk boundaries and skips noise', () => {
    const p = new SsiFrameParser();
    const bytes = Buffer.concat([Buffer.of(0, 1, 2), decodeData('AB'), decodeData('CD')]);
    const out = [bytes.subarray(0, 5), bytes.subarray(5, 11), bytes.subarray(11)].flatMap((c) => p.push(c));
    expect(out.map((r) => (r.ok ? r.frame.data.subarray(1).toString() : `${r.error}:${r.bytes}`))).toEqual([
      'noise:3',
      'AB',
      'CD',
    ]);
    expect(p.hasPartial).toBe(false);
  });

  it('drops a frame with a bad checksum whole', () => {
    const bad = decodeData('AB');
    bad[bad.length - 1] = (bad.at(-1) as number) ^ 0xff;
    const out = new SsiFrameParser().push(Buffer.concat([bad, decodeData('CD')]));
    expect(out.map((r) => (r.ok ? r.frame.data.subarray(1).toString() : r.error))).toEqual([
      'bad-checksum',
      'CD',
    ]);
  });

  it('flushes a partial frame as incomplete', () => {
    const p = new SsiFrameParser();
    expect(p.push(decodeData('AB').subarray(0, 5))).toEqual([]);
    expect(p.flush()).toEqual([{ ok: false, error: 'incomplete', bytes: 5 }]);
  });
});

describe('SsiSession', () => {
  const ACK = 'write 04 D0 04 00 FF 28';
  const NAK_RESEND = 'write 05 D1 04 00 01 FF 25';
  const session = (aim = false) => new SsiSession({ aim, maxBytes: 4096 });

  it('ACKs a good DECODE_DATA and emits the scan with its code type', () => {
    expect(summary(session().push(decodeData('4006381333931')))).toEqual([
      ACK,
      'scan ean-13 "4006381333931"',
    ]);
  });

  it('NAKs a bad checksum with RESEND, then accepts the retransmission', () => {
    const s = session();
    const bad = decodeData('123');
    bad[5] = (bad[5] as number) ^ 0x01;
    expect(summary(s.push(bad))).toEqual([NAK_RESEND, 'error bad-checksum']);
    const again = decodeData('123', { status: SSI_STATUS.retransmit });
    expect(summary(s.push(again))).toEqual([ACK, 'scan ean-13 "123"']);
  });

  it('drops the retransmission of a frame already accepted (its ACK was lost), ACKing it again', () => {
    const s = session();
    expect(summary(s.push(decodeData('123')))).toEqual([ACK, 'scan ean-13 "123"']);
    expect(summary(s.push(decodeData('123', { status: SSI_STATUS.retransmit })))).toEqual([
      ACK,
      'error duplicate',
    ]);
    // The same barcode scanned again (no retransmit bit) is a new scan.
    expect(summary(s.push(decodeData('123')))).toEqual([ACK, 'scan ean-13 "123"']);
  });

  it('does not take a resend after a NAK for a duplicate of the same barcode scanned before', () => {
    const s = session();
    s.push(decodeData('123'));
    const bad = decodeData('123');
    bad[6] = (bad[6] as number) ^ 0x40;
    s.push(bad);
    expect(summary(s.push(decodeData('123', { status: SSI_STATUS.retransmit })))).toEqual([
      ACK,
      'scan ean-13 "123"',
    ]);
  });

  it('joins multi-packet DECODE_DATA (continuation bit), ACKing each packet', () => {
    const s = session();
    const a = s.push(decodeData('ABC', { status: SSI_STATUS.continuation, code: 0x1c }));
    expect(summary(a)).toEqual([ACK]);
    expect(summary(s.push(decodeData('DEF', { code: 0x1c })))).toEqual([ACK, 'scan qr "ABCDEF"']);
  });

  it('with aim: true takes the symbology from the AIM identifier in the data', () => {
    expect(summary(session(true).push(decodeData(']C1010950110153000', { code: 0x0f })))).toEqual([
      ACK,
      'scan gs1-128 "010950110153000"',
    ]);
    expect(summary(session(true).push(decodeData('0109')))).toEqual([ACK, 'error missing-aim']);
  });

  it('hands ACK/NAK from the scanner to the command waiting for them, without answering', () => {
    const ack = buildSsiFrame({ opcode: SSI_OPCODE.ack, source: SSI_SOURCE.decoder });
    const nak = buildSsiFrame({ opcode: SSI_OPCODE.nak, source: SSI_SOURCE.decoder, data: Uint8Array.of(6) });
    expect(summary(session().push(Buffer.concat([ack, nak])))).toEqual(['ack', 'nak 6']);
  });

  it('ACKs other decoder messages and NAKs unknown ones with BAD_CONTEXT', () => {
    const event = buildSsiFrame({
      opcode: SSI_OPCODE.event,
      source: SSI_SOURCE.decoder,
      data: Uint8Array.of(1),
    });
    expect(summary(session().push(event))).toEqual([ACK, 'message 0xf6']);
    const odd = buildSsiFrame({ opcode: 0x42, source: SSI_SOURCE.decoder });
    expect(summary(session().push(odd))).toEqual(['write 05 D1 04 00 02 FF 24', 'error unknown-opcode']);
  });

  it('reports an empty barcode and an over-long one', () => {
    expect(summary(session().push(decodeData('')))).toEqual([ACK, 'error empty']);
    const small = new SsiSession({ aim: false, maxBytes: 4 });
    expect(summary(small.push(decodeData('ABC', { status: SSI_STATUS.continuation })))).toEqual([ACK]);
    expect(summary(small.push(decodeData('DE', { status: SSI_STATUS.continuation })))).toEqual([
      ACK,
      'error too-long',
    ]);
  });
});

const content = fc.string({
  unit: fc.oneof(
    fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
    fc.constant('\x1d'),
  ),
  minLength: 1,
  maxLength: 600,
});

describe('SsiSession properties', () => {
  it('any text → DECODE_DATA packets (random sizes), cut into random chunks → the same text, one ACK per packet', () => {
    fc.assert(
      fc.property(
        content,
        fc.integer({ min: 1, max: 250 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (text, room, cuts) => {
          const data = Buffer.from(text, 'latin1');
          const packets: Buffer[] = [];
          for (let at = 0; at < data.length; at += room) {
            const last = at + room >= data.length;
            packets.push(
              buildSsiFrame({
                opcode: SSI_OPCODE.decodeData,
                source: SSI_SOURCE.decoder,
                status: last ? 0 : SSI_STATUS.continuation,
                data: Buffer.concat([Buffer.of(0x03), data.subarray(at, at + room)]),
              }),
            );
          }
          const stream = Buffer.concat(packets);
          const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
          const s = new SsiSession({ aim: false, maxBytes: 4096 });
          const actions: SsiAction[] = [];
          let from = 0;
          for (const p of [...points, stream.length]) {
            actions.push(...s.push(stream.subarray(from, p)));
            from = p;
          }
          const scans = actions.filter((a) => a.type === 'scan');
          expect(scans).toHaveLength(1);
          expect(scans[0]?.type === 'scan' && scans[0].reading).toEqual({ text, symbology: 'code-128' });
          expect(actions.filter((a) => a.type === 'write')).toHaveLength(packets.length);
          expect(s.hasPartial).toBe(false);
        },
      ),
      { numRuns: 1000 },
    );
  });
});

const SSI_ERRORS: ReadonlySet<SsiError> = new Set([
  'bad-checksum',
  'noise',
  'incomplete',
  'duplicate',
  'unknown-opcode',
  'too-long',
  'empty',
  'missing-aim',
]);

describe('SsiSession fuzz', () => {
  it('never throws on 100,000 random chunks; every failure is typed', () => {
    const sessions = [
      new SsiSession({ aim: false, maxBytes: 64 }),
      new SsiSession({ aim: true, maxBytes: 4096 }),
    ];
    let failures = 0;
    const valid = fc
      .tuple(
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 0, max: 15 }),
        fc.uint8Array({ maxLength: 40 }),
      )
      .map(([opcode, status, data]) => buildSsiFrame({ opcode, source: 0, status, data }));
    fc.assert(
      fc.property(
        fc.nat(1),
        fc.oneof(fc.uint8Array({ maxLength: 80 }), valid),
        fc.boolean(),
        (i, bytes, flush) => {
          const s = sessions[i] as SsiSession;
          const actions = [...s.push(bytes), ...(flush ? s.flush() : [])];
          for (const a of actions) {
            if (a.type === 'error') {
              failures++;
              expect(SSI_ERRORS.has(a.error)).toBe(true);
            }
          }
        },
      ),
      { numRuns: 100_000 },
    );
    expect(failures).toBeGreaterThan(0);
  });
});
