import { describe, expect, it } from 'vitest';
import {
  buildSsiFrame,
  NAK_CAUSE,
  SSI_OPCODE,
  SSI_SOURCE,
  SsiFrameParser,
} from '../../drivers/serial-scanner/ssi.js';
import { SsiLink } from '../../drivers/serial-scanner/ssi-link.js';

type Reply = 'ack' | 'resend' | 'denied' | 'silent';

/** An SsiLink wired to a scripted scanner that answers each host command with the next reply. */
function rig(replies: Reply[], opts: { wakeup?: boolean } = {}) {
  const written: Buffer[] = [];
  const parser = new SsiFrameParser();
  const link: SsiLink = new SsiLink({
    aim: false,
    maxBytes: 4096,
    wakeup: opts.wakeup ?? false,
    commandTimeoutMs: 50,
    write: (bytes) => {
      written.push(bytes);
      for (const r of parser.push(bytes)) {
        if (!r.ok) continue;
        const reply = replies.shift() ?? 'silent';
        if (reply === 'silent') continue;
        const frame =
          reply === 'ack'
            ? buildSsiFrame({ opcode: SSI_OPCODE.ack, source: SSI_SOURCE.decoder })
            : buildSsiFrame({
                opcode: SSI_OPCODE.nak,
                source: SSI_SOURCE.decoder,
                data: Uint8Array.of(reply === 'resend' ? NAK_CAUSE.resend : NAK_CAUSE.denied),
              });
        queueMicrotask(() => link.onData(frame));
      }
    },
    onScan: () => {},
    onError: () => {},
  });
  return { link, written };
}

const hex = (b: Buffer) => b.toString('hex');

describe('SsiLink host commands', () => {
  it('sends BEEP after a WAKEUP byte and resolves on the ACK', async () => {
    const { link, written } = rig(['ack'], { wakeup: true });
    await expect(link.command('beep', { tone: 2 })).resolves.toEqual({ ok: true });
    expect(written.map(hex)).toEqual(['00', '05e6040002ff0f']);
  });

  it('resends once with the retransmit bit after NAK RESEND', async () => {
    const { link, written } = rig(['resend', 'ack']);
    await expect(link.command('scan-disable')).resolves.toEqual({ ok: true });
    expect(written.map(hex)).toEqual(['04ea0400ff0e', '04ea0401ff0d']);
  });

  it('reports a NAK DENIED, a scanner that never answers, and a bad argument', async () => {
    await expect(rig(['denied']).link.command('scan-enable')).resolves.toEqual({
      ok: false,
      error: 'nak',
      detail: 'cause 0x6',
    });
    const silent = rig([]);
    await expect(silent.link.command('scan-enable')).resolves.toMatchObject({ ok: false, error: 'timeout' });
    expect(silent.written).toHaveLength(2);
    await expect(rig([]).link.command('beep', { tone: 99 })).resolves.toMatchObject({
      ok: false,
      error: 'bad-argument',
    });
  });

  it('runs commands one at a time, in order', async () => {
    const { link, written } = rig(['ack', 'ack', 'ack']);
    const results = await Promise.all([
      link.command('scan-disable'),
      link.command('beep'),
      link.command('scan-enable'),
    ]);
    expect(results).toEqual([{ ok: true }, { ok: true }, { ok: true }]);
    expect(written.map((b) => b[1])).toEqual([
      SSI_OPCODE.scanDisable,
      SSI_OPCODE.beep,
      SSI_OPCODE.scanEnable,
    ]);
  });

  it('fails a command in flight when the port is lost', async () => {
    const { link } = rig(['silent']);
    const pending = link.command('beep');
    await new Promise((r) => setTimeout(r, 5));
    link.reset();
    await expect(pending).resolves.toEqual({ ok: false, error: 'not-connected' });
  });
});
