import { EventConsumer, type GatewayState, type Received } from '../consumer/consumer.js';
import { EXIT } from '../errors.js';

const color = (on: boolean) => {
  const wrap = (code: number) => (s: string) => (on ? `\u001b[${code}m${s}\u001b[0m` : s);
  return { dim: wrap(2), red: wrap(31), green: wrap(32), yellow: wrap(33), cyan: wrap(36), bold: wrap(1) };
};

/** Control characters (GS separators in GS1 codes) shown visibly. */
const visible = (s: string) =>
  // biome-ignore lint/suspicious/noControlCharactersInRegex: showing control characters is the point
  s.replace(/[\u0000-\u001f]/g, (c) => (c === '\u001d' ? '<GS>' : `<${c.charCodeAt(0).toString(16)}>`));

/** A POS transaction in one line: number, items, total, and whether a loyalty card and offers were used. */
function formatPos(d: Record<string, unknown>, dim: (s: string) => string): string {
  const lines = Array.isArray(d.lineItems) ? (d.lineItems as { discounts?: { offerId?: string }[] }[]) : [];
  const offers = new Set(lines.flatMap((l) => (l.discounts ?? []).map((x) => x.offerId).filter(Boolean)));
  const total = (d.totals as { grand?: number } | undefined)?.grand;
  const extra = [d.loyaltyAccountId ? 'loyalty' : '', offers.size ? `offers ${[...offers].join(',')}` : '']
    .filter(Boolean)
    .join(' ');
  return `#${d.sequenceNumber} ${lines.length} lines ${total?.toFixed(2)} ${d.currencyCode}${extra ? dim(` ${extra}`) : ''}`;
}

/** One line per event, as a person watching central's feed wants to read it. */
export function formatReceived(r: Received, useColor = false): string {
  const c = color(useColor);
  const e = r.event;
  if (!e) return c.red(`✗ ${r.topic} unreadable: ${r.issues.map((i) => i.message).join('; ')}`);
  const time = typeof e.time === 'string' ? e.time.slice(11, 23) : '--:--:--.---';
  const device = r.topic.split('/').pop() ?? '?';
  const d = e.data ?? {};
  let what: string;
  switch (e.type) {
    case 'retail.scan.v1':
      what = `${c.bold(visible(String(d.text)))} ${c.dim(`${d.aim ?? ''} ${d.symbology}`.trim())}`;
      break;
    case 'retail.device.status.v1':
      what = `${d.state === 'connected' ? c.green(String(d.state)) : c.yellow(String(d.state))}${d.reason ? c.dim(` (${d.reason})`) : ''}`;
      break;
    case 'retail.gateway.alarm.v1':
      what = c.red(`ALARM ${d.alarm}: ${d.message}`);
      break;
    case 'retail.pos.transaction.v1':
      what = formatPos(d, c.dim);
      break;
    case 'retail.presence.enter.v1':
    case 'retail.presence.exit.v1':
    case 'retail.presence.dwell.v1': {
      const who = `${d.tag ?? d.subjectType} ${String(d.subject).slice(0, 8)}…`;
      const dwell = typeof d.dwellMs === 'number' ? ` after ${Math.round(d.dwellMs / 1000)} s` : '';
      const why = d.reason ? ` (${d.reason})` : '';
      what = `${c.bold(String(d.zone))} ${who} ${c.dim(`${d.source}${d.distanceM !== undefined ? ` ${d.distanceM} m` : ''}${dwell}${why}`)}`;
      break;
    }
    case 'retail.beacon.health.v1': {
      const battery = typeof d.batteryMv === 'number' ? ` battery ${d.batteryMv} mV` : '';
      const status = String(d.status);
      what = `${d.beaconId} ${status === 'ok' ? c.green(status) : c.yellow(status)}${c.dim(battery)}`;
      break;
    }
    default:
      what = JSON.stringify(d);
  }
  const flags = [
    r.issues.length > 0 ? c.red(`INVALID ${r.issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`) : '',
    r.duplicate ? c.yellow('duplicate') : '',
    r.gap > 0 ? c.red(`gap of ${r.gap}`) : '',
    r.batch ? c.dim(`batch ${r.batch.index + 1}/${r.batch.size}`) : '',
  ].filter(Boolean);
  return `${c.dim(time)} ${c.cyan(`${e.storeid}/${e.gatewayid}`)} #${e.seq} ${e.type.replace(/^retail\.|\.v\d+$/g, '')} ${device}  ${what}${flags.length ? `  ${flags.join(' ')}` : ''}`;
}

export function formatState(s: GatewayState, useColor = false): string {
  const c = color(useColor);
  const st = s.state ?? {};
  const label = st.state === 'online' ? c.green('online') : c.yellow(String(st.state ?? '(cleared)'));
  return `${c.dim('state')} ${c.cyan(`${st.storeid ?? '?'}/${st.gatewayid ?? '?'}`)} ${label} birth ${st.birth ?? '?'}${st.reason ? ` (${st.reason})` : ''}`;
}

/**
 * The totals printed on exit. Batches are mentioned only when some arrived, so the line a 3.1.1
 * or per-message feed prints stays as it always was.
 */
export function formatSummary(counts: EventConsumer['counts']): string {
  const { received, invalid, duplicates, gaps, batches } = counts;
  const inBatches = batches > 0 ? ` (${batches} ${batches === 1 ? 'batch' : 'batches'})` : '';
  return `${received} events${inBatches}, ${invalid} invalid, ${duplicates} duplicates, ${gaps} missing`;
}

/** Prints what a consumer receives; returns a stop function. */
export function attachPrinter(
  consumer: EventConsumer,
  opts: { json?: boolean; out?: NodeJS.WritableStream } = {},
) {
  const out = opts.out ?? process.stdout;
  const useColor = out === process.stdout && process.stdout.isTTY === true;
  consumer.on('event', (r) => {
    out.write(`${opts.json ? JSON.stringify(r) : formatReceived(r, useColor)}\n`);
  });
  consumer.on('state', (s) => {
    out.write(`${opts.json ? JSON.stringify(s) : formatState(s, useColor)}\n`);
  });
}

/** `store-gateway tail`: subscribe like a central consumer would, validate, pretty-print. */
export async function tailCommand(opts: {
  url: string;
  store?: string;
  gateway?: string;
  json?: boolean;
  mqttVersion?: string;
}): Promise<number> {
  const consumer = new EventConsumer({
    url: opts.url,
    storeId: opts.store,
    gatewayId: opts.gateway,
    protocolVersion: opts.mqttVersion === '5' ? 5 : 4,
  });
  attachPrinter(consumer, { json: opts.json });
  await consumer.start();
  return new Promise<number>((resolve) => {
    const stop = () => {
      void consumer.stop().then(() => {
        process.stderr.write(`\n${formatSummary(consumer.counts)}\n`);
        resolve(EXIT.OK);
      });
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
