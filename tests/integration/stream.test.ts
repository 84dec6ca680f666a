import { writeFileSync } from 'node:fs';
import { get, type IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_GTIN_PRODUCTS } from '../../simulators/personalization.js';
import { newToken, SimulatedPosLane } from '../../simulators/pos-lane.js';
import { type Running, startGateway } from '../../src/cli/run.js';
import { validateConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/logger.js';
import { testConfig } from '../helpers/config.js';
import { freePort } from '../helpers/ports.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const KIOSK = newToken();
const LANE = newToken();
const HISTORY = 50;
const CLIENT_BUFFER = 1024 * 1024;

interface SseMessage {
  id?: string;
  event?: string;
  data?: string;
}

/** A minimal EventSource over node:http: keeps every message, exposes the response. */
class SseClient {
  readonly messages: SseMessage[] = [];
  private rest = '';
  ended = false;

  private constructor(readonly res: IncomingMessage) {
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => this.feed(chunk));
    res.on('close', () => {
      this.ended = true;
    });
  }

  static open(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
    return new Promise((resolve, reject) => {
      get(url, { headers }, (res) => resolve(new SseClient(res))).on('error', reject);
    });
  }

  get status(): number {
    return this.res.statusCode ?? 0;
  }

  /** Data messages (not `reset`), parsed. */
  events(): { id: number; type: string; seq: number; device: string; data: Record<string, unknown> }[] {
    return this.messages
      .filter((m) => m.event === undefined && m.data !== undefined)
      .map((m) => {
        const e = JSON.parse(m.data as string);
        return {
          id: Number(m.id),
          type: e.type,
          seq: e.seq,
          device: e.source.split('/').pop(),
          data: e.data,
        };
      });
  }

  private feed(chunk: string): void {
    this.rest += chunk;
    let end = this.rest.indexOf('\n\n');
    while (end >= 0) {
      const block = this.rest.slice(0, end);
      this.rest = this.rest.slice(end + 2);
      const msg: SseMessage = {};
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue;
        const i = line.indexOf(':');
        const field = line.slice(0, i);
        const value = line.slice(i + 1).replace(/^ /, '');
        if (field === 'id' || field === 'event' || field === 'data') msg[field] = value;
      }
      if (msg.data !== undefined || msg.event !== undefined) this.messages.push(msg);
      end = this.rest.indexOf('\n\n');
    }
  }

  close(): void {
    this.res.destroy();
  }
}

describe('GET /v1/events/stream (Server-Sent Events)', () => {
  let dir: ReturnType<typeof tmpDir>;
  let running: Running;
  let base: string;
  let textN = 0;

  const auth = { authorization: `Bearer ${KIOSK}` };
  const streamUrl = (query = '') => `${base}/v1/events/stream${query ? `?${query}` : ''}`;
  const scan = (device: string, text = `code-${++textN}`) =>
    running.gateway.emitFor(device)('retail.scan.v1', { deviceId: device, text, symbology: 'unknown' });
  const flush = () => running.gateway.outbox.flush();
  const status = async () =>
    (
      (await (await fetch(`${base}/v1/status`)).json()) as {
        modules: {
          stream: {
            clients: { id: number; queuedBytes: number }[];
            dropped: number;
            maxQueuedBytes: number;
            history: { events: number; coversAfterSeq: number; lastSeq: number };
          };
        };
      }
    ).modules.stream;

  beforeAll(async () => {
    dir = tmpDir('sg-stream-');
    const tokensFile = join(dir.path, 'tokens');
    writeFileSync(tokensFile, `${KIOSK} kiosk stream\n${LANE} lane-1 pos\n`, { mode: 0o600 });
    const r = validateConfig(
      testConfig({
        dir: dir.path,
        // No broker: the local stream does not need one.
        mqttUrl: `mqtt://127.0.0.1:${await freePort()}`,
        extra: {
          api: { tokensFile },
          pos: { enabled: true },
          stream: { enabled: true, historyEvents: HISTORY, clientBufferBytes: CLIENT_BUFFER, maxClients: 3 },
        },
      }),
    );
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    running = await startGateway(r.config, { log: silentLogger() });
    const addr = running.api?.addresses()[0] as { address: string; port: number };
    base = `http://${addr.address}:${addr.port}`;
  });
  afterAll(async () => {
    await running?.stop();
    dir?.cleanup();
  });

  it('sends events as they commit, with the seq as the id, filtered by class and device', async () => {
    const all = await SseClient.open(streamUrl(), auth);
    const filtered = await SseClient.open(streamUrl('class=scan,pos&device=lane-2&device=lane-1'), auth);
    expect(all.status).toBe(200);
    expect(all.res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    await waitFor(async () => (await status()).clients.length === 2, 'two clients');
    scan('lane-1');
    scan('lane-2');
    scan('lane-3');
    running.gateway.emitFor('lane-2')('retail.device.status.v1', {
      deviceId: 'lane-2',
      kind: 'serial-scanner',
      state: 'connected',
    });
    flush();
    const pos = new SimulatedPosLane({ apiUrl: base, token: LANE, storeId: '0421', workstationId: 'lane-1' });
    const posted = await pos.post(pos.buildTransaction(DEMO_GTIN_PRODUCTS.slice(0, 2), undefined, []));
    expect(posted.status).toBe(202);
    await waitFor(() => all.events().length === 5, 'five events on the unfiltered stream');
    await waitFor(() => filtered.events().length === 3, 'three on the filtered stream');
    const events = all.events();
    expect(events.map((e) => e.id)).toEqual(events.map((e) => e.seq));
    expect(events.map((e) => `${e.type} ${e.device}`)).toEqual([
      'retail.scan.v1 lane-1',
      'retail.scan.v1 lane-2',
      'retail.scan.v1 lane-3',
      'retail.device.status.v1 lane-2',
      'retail.pos.transaction.v1 lane-1',
    ]);
    expect(filtered.events().map((e) => `${e.type} ${e.device}`)).toEqual([
      'retail.scan.v1 lane-1',
      'retail.scan.v1 lane-2',
      'retail.pos.transaction.v1 lane-1',
    ]);
    expect(filtered.events()[2]?.seq).toBe(JSON.parse(posted.body).seq);
    all.close();
    filtered.close();
    await waitFor(async () => (await status()).clients.length === 0, 'clients gone');
  });

  it('resumes after Last-Event-ID with exactly the events missed, then goes live', async () => {
    const first = await SseClient.open(streamUrl('class=scan'), auth);
    await waitFor(async () => (await status()).clients.length === 1, 'client');
    for (let i = 0; i < 5; i++) scan('lane-1');
    flush();
    await waitFor(() => first.events().length === 5, 'five events');
    const last = first.events()[4]?.id as number;
    first.close();
    await waitFor(async () => (await status()).clients.length === 0, 'client gone');

    for (let i = 0; i < 7; i++) scan(i % 2 ? 'lane-1' : 'lane-2');
    running.gateway.emitFor('lane-2')('retail.device.status.v1', {
      deviceId: 'lane-2',
      kind: 'serial-scanner',
      state: 'connected',
    });
    flush();
    const resumed = await SseClient.open(streamUrl('class=scan'), { ...auth, 'last-event-id': String(last) });
    await waitFor(() => resumed.events().length === 7, 'the seven missed scans');
    scan('lane-1');
    flush();
    await waitFor(() => resumed.events().length === 8, 'the live one');
    const ids = resumed.events().map((e) => e.id);
    expect(ids[0]).toBe(last + 1);
    expect(new Set(ids).size).toBe(8);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(resumed.messages.some((m) => m.event === 'reset')).toBe(false);

    // A client that kept its id may pass it in the query instead (EventSource cannot set headers).
    const byQuery = await SseClient.open(streamUrl(`class=scan&lastEventId=${last}&access_token=${KIOSK}`));
    await waitFor(() => byQuery.events().length === 8, 'the same eight');
    expect(byQuery.events().map((e) => e.id)).toEqual(ids);
    resumed.close();
    byQuery.close();
  });

  it('says `reset` when the recent window no longer reaches back, then sends what it has', async () => {
    for (let i = 0; i < HISTORY + 10; i++) scan('lane-4');
    flush();
    const h = (await status()).history;
    expect(h.events).toBe(HISTORY);
    const c = await SseClient.open(streamUrl('device=lane-4'), { ...auth, 'last-event-id': '1' });
    await waitFor(() => c.events().length >= HISTORY - 10, 'the window');
    const reset = c.messages[0];
    expect(reset?.event).toBe('reset');
    expect(JSON.parse(reset?.data ?? '{}')).toEqual({ lastEventId: 1, resumedAfter: h.coversAfterSeq });
    expect(c.events()[0]?.id).toBeGreaterThan(h.coversAfterSeq);
    c.close();
  });

  it('refuses a bad filter (400), a missing or wrong token (401/403), and too many clients (503)', async () => {
    const bad = await fetch(streamUrl('class=nope&device=a/b'), { headers: auth });
    expect(bad.status).toBe(400);
    const body = (await bad.json()) as { details: { path: string }[] };
    expect(body.details.map((d) => d.path)).toEqual(['/class/0', '/device/0']);
    expect((await fetch(streamUrl('lastEventId=abc'), { headers: auth })).status).toBe(400);
    expect((await fetch(streamUrl())).status).toBe(401);
    expect((await fetch(streamUrl(`access_token=${newToken()}`))).status).toBe(401);
    expect((await fetch(streamUrl(), { headers: { authorization: `Bearer ${LANE}` } })).status).toBe(403);

    const open = await Promise.all([1, 2, 3].map(() => SseClient.open(streamUrl(), auth)));
    expect(open.map((c) => c.status)).toEqual([200, 200, 200]);
    const fourth = await fetch(streamUrl(), { headers: auth });
    expect(fourth.status).toBe(503);
    expect(fourth.headers.get('retry-after')).toBe('5');
    expect(await fourth.json()).toMatchObject({ error: 'GW_ERR_STREAM_FULL' });
    for (const c of open) c.close();
    await waitFor(async () => (await status()).clients.length === 0, 'clients gone');
  });

  it('drops a client that stops reading before its queue passes the bound; a reading client keeps up', async () => {
    const reader = await SseClient.open(streamUrl('device=bulk'), auth);
    // A client that sends its request and never reads again.
    const stalled: Socket = connect(Number(new URL(base).port), '127.0.0.1');
    await new Promise<void>((resolve) => stalled.once('connect', () => resolve()));
    stalled.pause();
    let stalledClosed = false;
    stalled.on('close', () => {
      stalledClosed = true;
    });
    stalled.write(
      `GET /v1/events/stream?device=bulk HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KIOSK}\r\n\r\n`,
    );
    await waitFor(async () => (await status()).clients.length === 2, 'both clients');
    const droppedBefore = (await status()).dropped;

    const text = 'x'.repeat(16 * 1024);
    let sent = 0;
    let peak = 0;
    // 128 KiB per round, in lockstep with the reading client, up to 200 MiB.
    while ((await status()).dropped === droppedBefore && sent < 1600 * 8) {
      for (let i = 0; i < 8; i++) scan('bulk', text);
      flush();
      sent += 8;
      await waitFor(() => reader.events().length === sent, `${sent} events read`);
      const s = await status();
      peak = Math.max(peak, ...s.clients.map((c) => c.queuedBytes));
    }
    const s = await status();
    expect(s.dropped).toBe(droppedBefore + 1);
    expect(s.maxQueuedBytes).toBeLessThanOrEqual(CLIENT_BUFFER);
    expect(peak).toBeLessThanOrEqual(CLIENT_BUFFER);
    expect(s.clients).toHaveLength(1);
    // The stalled client learns it was dropped once it reads what its socket still held.
    stalled.resume();
    await waitFor(() => stalledClosed, 'the stalled connection to close');
    // The reading client was never dropped and saw every event, in order.
    for (let i = 0; i < 8; i++) scan('bulk', 'after');
    flush();
    await waitFor(() => reader.events().length === sent + 8, 'the reader to keep going');
    const ids = reader.events().map((e) => e.id);
    expect(ids.every((id, i) => i === 0 || id === (ids[i - 1] as number) + 1)).toBe(true);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/^sg_stream_clients_dropped_total\{reason="slow"\} 1$/m);
    reader.close();
  });

  it('ends open streams when the API closes, so a stop does not hang', async () => {
    const c = await SseClient.open(streamUrl(), auth);
    await waitFor(async () => (await status()).clients.length === 1, 'client');
    await running.stop();
    await waitFor(() => c.ended, 'the stream to end');
    expect(c.ended).toBe(true);
  });
});
