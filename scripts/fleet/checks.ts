import type { GroupTally } from './central.js';

/** One pass/fail line of a fleet run. */
export interface Check {
  name: string;
  pass: boolean;
  detail: string;
}

/** An event a gateway accepted (its 202 answer): the gateway (`store/gateway`) and its seq. */
export interface AcceptedEvent {
  gateway: string;
  seq: number;
}

/**
 * The checks of one subscription group, pure: every accepted event consumed (after dedupe by id)
 * with the gateway and seq it was accepted with; per gateway, seqs 1..`lastSeq` all present and
 * none beyond; every event valid and on its own gateway's topic; the group's events spread over
 * all `members`.
 */
export function groupChecks(
  g: GroupTally,
  accepted: ReadonlyMap<string, AcceptedEvent>,
  lastSeq: ReadonlyMap<string, number>,
  members: number,
): Check[] {
  let missing = 0;
  let wrong = 0;
  for (const [id, a] of accepted) {
    const c = g.ids.get(id);
    if (!c) missing++;
    else if (c.gateway !== a.gateway || c.seq !== a.seq) wrong++;
  }
  const gapDetails: string[] = [];
  let gaps = 0;
  for (const [gateway, last] of lastSeq) {
    const seen = g.seqs.get(gateway) ?? new Map<number, string>();
    let missingHere = 0;
    for (let s = 1; s <= last; s++) if (!seen.has(s)) missingHere++;
    const beyond = [...seen.keys()].filter((s) => s > last || s < 1).length;
    if (last < 1 || missingHere > 0 || beyond > 0) {
      gaps += missingHere + beyond + (last < 1 ? 1 : 0);
      if (gapDetails.length < 5)
        gapDetails.push(`${gateway}: last seq ${last}, ${missingHere} missing, ${beyond} outside 1..last`);
    }
  }
  const unknown = [...g.seqs.keys()].filter((k) => !lastSeq.has(k));
  if (unknown.length > 0) {
    gaps += unknown.length;
    gapDetails.push(`events from gateways not in the fleet: ${unknown.slice(0, 3).join(', ')}`);
  }
  const counts = [...g.perConsumer.values()];
  return [
    {
      name: `${g.name}: every accepted event consumed once after dedupe by id`,
      pass: missing === 0 && wrong === 0 && g.seqConflicts === 0,
      detail:
        `${accepted.size - missing} of ${accepted.size} (${missing} missing, ${wrong} with another gateway or seq, ` +
        `${g.seqConflicts} seq conflicts); ${g.duplicates} redeliveries dropped`,
    },
    {
      name: `${g.name}: per-gateway seq 1..last with no gap`,
      pass: gaps === 0,
      detail: gaps === 0 ? `${lastSeq.size} gateways` : gapDetails.join('; '),
    },
    {
      name: `${g.name}: every event valid and on its own gateway's topic`,
      pass: g.invalid === 0 && g.misrouted === 0,
      detail: `${g.invalid} invalid, ${g.misrouted} misrouted${g.problems.length ? `: ${g.problems.slice(0, 2).join('; ')}` : ''}`,
    },
    {
      name: `${g.name}: the group's events shared among its ${members} members`,
      pass: counts.length === members && counts.every((n) => n > 0),
      detail:
        [...g.perConsumer.entries()].map(([c, n]) => `${c.split('-').at(-1)}: ${n}`).join(', ') || 'none',
    },
  ];
}

/** Whether every group holds the same set of event ids. */
export function sameEventsCheck(groups: readonly GroupTally[]): Check {
  const [first, ...rest] = groups;
  const differ = first
    ? rest.filter((g) => g.ids.size !== first.ids.size || [...g.ids.keys()].some((id) => !first.ids.has(id)))
    : [];
  return {
    name: 'every group got the same events',
    pass: differ.length === 0,
    detail: groups.map((g) => `${g.name} ${g.ids.size}`).join(', '),
  };
}
