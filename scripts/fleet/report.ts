import type { FleetResult } from './fleet.js';

const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const mb = (b: number) => `${fmt(b / 2 ** 20)} MiB`;
const pct = (share: number) => `${fmt(share * 100)}%`;

/** The report as printed (and as quoted in docs/RELIABILITY.md). */
export function formatReport(r: FleetResult): string {
  const g = r.gateways;
  const lines = [
    `fleet: ${r.started} of ${r.requested} gateways (one process each, node ${r.nodeFlags.join(' ')}), ` +
      `started in ${fmt(r.startSec, 1)} s`,
    `  machine          ${r.machine.cores} cores, ${mb(r.machine.totalMemBytes)}; load average ` +
      `${r.machine.loadAvgStart.map((x) => fmt(x, 1)).join(' ')} at start, ` +
      `${r.machine.loadAvgEnd.map((x) => fmt(x, 1)).join(' ')} at end`,
    `  source           ${r.source}`,
    `  accepted         ${fmt(r.accepted)} events in ${fmt(r.sourceSec, 1)} s = ${fmt(r.acceptedPerSec)}/s; ` +
      `drained ${fmt(r.drainSec, 1)} s after the stores stopped`,
    `  per gateway      ${fmt(r.perGatewayPerSec.median, 1)} events/s median ` +
      `(min ${fmt(r.perGatewayPerSec.min, 1)}, max ${fmt(r.perGatewayPerSec.max, 1)}); POST to 202 ` +
      `p50 ${fmt(r.postLatencyMs.p50)} ms, p99 ${fmt(r.postLatencyMs.p99)} ms, max ${fmt(r.postLatencyMs.max)} ms`,
    `  broker           PUBLISH in ${fmt(r.broker.publishInPerSec)}/s (peak ${fmt(r.broker.peakPublishInPerSec)}/s over 1 s), ` +
      `out ${fmt(r.broker.publishOutPerSec)}/s; ${fmt(r.broker.bytesInPerSec / 1024)} KiB/s in, ` +
      `${fmt(r.broker.bytesOutPerSec / 1024)} KiB/s out; ${r.broker.clients} clients`,
    `  broker process   CPU ${pct(r.broker.cpu)} of a core; RSS ${mb(r.broker.rssBytes)} (peak ${mb(r.broker.peakRssBytes)})`,
    `  gateways         CPU ${pct(g.cpuTotal)} of a core in all (each: median ${pct(g.cpu.median)}, max ${pct(g.cpu.max)}); ` +
      `RSS ${mb(g.rssBytes.sum)} in all (each: median ${mb(g.rssBytes.median)}, max ${mb(g.rssBytes.max)}, ` +
      `peak ${mb(g.peakRssBytes.max)})`,
    `  uplink           window ${g.window}; ${fmt(g.batches)} batches (${fmt(g.batchedEvents)} events); ` +
      `${g.reconnects} reconnects; ${g.warnings} warnings logged`,
    `  harness          CPU ${pct(r.harness.cpu)} of a core (POS lanes + consumers); peak RSS ${mb(r.harness.peakRssBytes)}`,
  ];
  for (const grp of r.groups) {
    lines.push(
      `  ${grp.name.padEnd(16)} ${fmt(grp.unique)} unique events from ${fmt(grp.deliveries)} deliveries ` +
        `(${grp.duplicates} redeliveries), ${fmt(grp.messages)} messages (${fmt(grp.batches)} batches); split ` +
        Object.values(grp.perConsumer)
          .map((n) => fmt(n))
          .join(' / '),
    );
  }
  for (const w of g.warningSamples) lines.push(`  warning          ${w}`);
  for (const w of r.retried) lines.push(`  second attempt   ${w}`);
  lines.push('checks:');
  for (const c of r.checks) lines.push(`  ${c.pass ? 'PASS' : 'FAIL'} ${c.name}: ${c.detail}`);
  lines.push(r.pass ? 'fleet: PASS' : 'fleet: FAIL');
  return lines.join('\n');
}
