// The status page: polls the gateway's read-only JSON every few seconds and fills in the page.
// No framework and no build step; DOM built with textContent only (values are never HTML).
// With api.statusPage.requireToken, open the page as /#token=<token>: the fragment never leaves
// the browser; the token is kept for this tab in sessionStorage and sent as a bearer token.

const POLL_MS = 2000;
const MAX_EVENTS = 50;
const $ = (id) => document.getElementById(id);

const fragment = new URLSearchParams(location.hash.slice(1));
if (fragment.has('token')) {
  sessionStorage.setItem('sg-token', fragment.get('token'));
  history.replaceState(null, '', location.pathname);
}
const token = sessionStorage.getItem('sg-token');
const headers = token ? { authorization: `Bearer ${token}` } : {};

let lastSeq = 0;

async function getJson(path) {
  const res = await fetch(path, { headers, cache: 'no-store' });
  if (res.status === 401 || res.status === 403) {
    throw new Error('this page needs a token with the status scope: open it as /#token=<token>');
  }
  if (!res.ok) throw new Error(`${path} answered ${res.status}`);
  return res.json();
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') node.className = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c ?? '')));
  return node;
}

const STATE_CLASS = {
  connected: 'ok',
  running: 'ok',
  online: 'ok',
  starting: 'warn',
  stopping: 'warn',
  disconnected: 'bad',
  unavailable: 'bad',
  stopped: 'bad',
  offline: 'bad',
};

function badge(node, text) {
  node.textContent = text;
  node.className = `badge ${STATE_CLASS[text] ?? ''}`;
}

function bytes(n) {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(1)} GiB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(0)} KiB`;
  return `${n} B`;
}

const clock = (iso) => (iso ? new Date(iso).toLocaleTimeString() : '—');

function renderStatus(s) {
  $('ident').textContent = `${s.store} / ${s.gateway}`;
  $('version').textContent = `v${s.version}`;
  badge($('gateway-state'), s.state);
  const u = s.uplink;
  badge($('uplink-state'), u ? (u.connected ? 'connected' : 'disconnected') : 'stopped');
  $('uplink-broker').textContent = u?.broker ?? '—';
  $('uplink-inflight').textContent = u ? `${u.inflight} (window ${u.window})` : '—';
  $('uplink-reconnects').textContent = u?.reconnects ?? '—';
  $('uplink-error').textContent = u?.lastError ?? 'none';
  const b = s.buffer;
  $('buffer-rows').textContent = b ? b.rows : '—';
  $('buffer-bytes').textContent = b ? `${bytes(b.bytes)} of ${bytes(b.maxBytes)}` : 'closed';
  $('buffer-intake').textContent = b ? (b.refusing ? 'refusing (buffer full or disk low)' : 'open') : '—';
  renderDevices(s.devices);
  renderZones(s.modules?.presence);
}

function renderDevices(devices) {
  const rows = devices.map((d) => {
    const state = el('span', { class: 'badge' });
    badge(state, d.state);
    return el(
      'tr',
      { 'data-device': d.id },
      el('td', {}, d.id),
      el('td', {}, d.kind),
      el('td', { class: 'state' }, state),
      el('td', {}, clock(d.since)),
      el('td', { class: 'readings' }, d.readings),
      el('td', {}, d.decodeErrors),
      el('td', {}, clock(d.lastReadingAt)),
      el('td', { class: 'wrap' }, d.lastError ?? ''),
    );
  });
  $('devices').tBodies[0].replaceChildren(...rows);
  $('devices-empty').hidden = devices.length > 0;
}

function renderZones(presence) {
  const zones = presence?.zones;
  const names = zones ? Object.keys(zones).sort() : [];
  const rows = names.map((z) => el('tr', { 'data-zone': z }, el('td', {}, z), el('td', {}, zones[z])));
  $('zones').tBodies[0].replaceChildren(...rows);
  const empty = $('zones-empty');
  empty.hidden = names.length > 0;
  empty.textContent = presence ? 'Nobody is in a zone.' : 'Presence is off.';
}

function renderHistory(h) {
  const samples = h.samples;
  const last = samples.at(-1);
  $('uplink-rate').textContent = last ? last.publishedPerSec : '—';
  $('accept-rate').textContent = last ? last.acceptedPerSec : '—';
  const chart = $('chart-line');
  chart.replaceChildren();
  if (samples.length < 2) return;
  const max = Math.max(1, ...samples.map((p) => p.bufferRows));
  const step = 300 / (samples.length - 1);
  const points = samples.map(
    (p, i) => `${(i * step).toFixed(1)},${(78 - (p.bufferRows / max) * 74).toFixed(1)}`,
  );
  const line = document.createElementNS('http://www.w3.org/2000/svg', 'polyline');
  line.setAttribute('points', points.join(' '));
  chart.append(line);
  const minutes = Math.round((samples.length * h.sampleSec) / 60);
  $('chart-caption').textContent = `buffer depth, last ${minutes || '<1'} min (max ${max})`;
}

function renderEvents(page) {
  const list = $('events');
  for (const e of page.events) {
    lastSeq = Math.max(lastSeq, e.seq);
    const item = el(
      'li',
      { 'data-seq': e.seq, 'data-type': e.type },
      el('span', {}, clock(e.time)),
      el('span', {}, `#${e.seq}`),
      el('span', { class: 'cls' }, e.class),
      el('span', {}, e.device),
      el('span', {}, e.summary || e.type),
    );
    list.prepend(item);
  }
  while (list.children.length > MAX_EVENTS) list.lastElementChild.remove();
  $('events-empty').hidden = list.children.length > 0;
}

async function refresh() {
  try {
    const [status, history, events] = await Promise.all([
      getJson('/v1/status'),
      getJson('/v1/status/history'),
      getJson(`/v1/status/events?after=${lastSeq}&limit=${MAX_EVENTS}`),
    ]);
    renderStatus(status);
    renderHistory(history);
    renderEvents(events);
    $('updated').textContent = new Date().toLocaleTimeString();
    $('problem').hidden = true;
  } catch (err) {
    const p = $('problem');
    p.textContent = err instanceof Error ? err.message : String(err);
    p.hidden = false;
  } finally {
    setTimeout(refresh, POLL_MS);
  }
}

void refresh();
