// Lists the operations of /docs/openapi.json. The JSON document is the reference; open it in any
// OpenAPI tool for the schemas.

const el = (tag, text, cls) => {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (cls) node.className = cls;
  return node;
};

async function main() {
  const doc = await (await fetch('/docs/openapi.json')).json();
  document.getElementById('api-version').textContent = `v${doc.info.version}`;
  document.getElementById('api-description').textContent = doc.info.description;
  const rows = [];
  for (const [path, ops] of Object.entries(doc.paths).sort(([a], [b]) => a.localeCompare(b))) {
    for (const [method, op] of Object.entries(ops)) {
      const scopes = (op.security ?? []).flatMap((s) => Object.values(s).flat());
      const tr = el('tr');
      tr.append(
        el('td', method.toUpperCase(), 'badge'),
        el('td', path),
        el('td', op.summary ?? op.description ?? '', 'wrap'),
        el('td', [...new Set(scopes)].join(', ') || '—'),
        el('td', Object.keys(op.responses ?? {}).join(' '), 'wrap'),
      );
      rows.push(tr);
    }
  }
  document.querySelector('#operations tbody').replaceChildren(...rows);
}

void main();
