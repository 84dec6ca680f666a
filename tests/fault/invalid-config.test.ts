import { readdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EXIT } from '../../src/errors.js';
import { runCli } from '../helpers/cli.js';
import { freePort, portOpen } from '../helpers/ports.js';
import { tmpDir } from '../helpers/tmp.js';

/** A TCP listener standing in for the broker: it only counts who connects. */
async function connectionCounter(): Promise<{ server: Server; url: string; connections: () => number }> {
  let n = 0;
  const server = createServer((socket) => {
    n++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { server, url: `mqtt://127.0.0.1:${port}`, connections: () => n };
}

/** Issue lines of the report ("  /path: message"), as printed on stderr. */
const issueLines = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('  /'));

describe('fault: invalid configuration', () => {
  let dir: ReturnType<typeof tmpDir>;
  let broker: Awaited<ReturnType<typeof connectionCounter>>;
  let apiPort: number;
  beforeEach(async () => {
    dir = tmpDir();
    broker = await connectionCounter();
    apiPort = await freePort();
  });
  afterEach(async () => {
    await new Promise((resolve) => broker.server.close(resolve));
    dir.cleanup();
  });

  /** Everything a run would touch is valid (broker, buffer, API, scanner path); the errors are elsewhere. */
  const bufferPath = () => join(dir.path, 'buffer.db');
  const write = (name: string, yaml: string) => {
    const file = join(dir.path, name);
    writeFileSync(file, yaml);
    return file;
  };
  const common = () => `
gateway: { id: gw-1 }
buffer: { path: "${bufferPath()}" }
api: { host: 127.0.0.1, port: ${apiPort} }
`;

  /** Schema errors in every section; each one must be listed with its path. */
  const schemaErrors = () =>
    write(
      'bad.yaml',
      `store: { id: "04/21" }
gateway: { id: gw-1 }
mqtt: { url: "${broker.url}", protocolVersion: 3, inflightWindow: 0 }
buffer: { path: "${bufferPath()}", synchronous: SOMETIMES }
api: { host: 127.0.0.1, port: ${apiPort} }
logging: { level: debug }
devices:
  - id: lane-1
    kind: serial-scanner
    path: ${join(dir.path, 'scanner')}
    baudRate: 12
    framing: { suffix: "\\r\\n", stx: true }
  - id: lane-2
    kind: serial-scanner
    path: ${join(dir.path, 'scanner-2')}
    parity: sometimes
`,
    );
  const schemaPaths = [
    '/',
    '/store/id',
    '/mqtt/protocolVersion',
    '/mqtt/inflightWindow',
    '/buffer/synchronous',
    '/devices/0/baudRate',
    '/devices/0/framing',
    '/devices/1/parity',
  ];

  /** Valid against the schema, wrong across fields: the rules the schema cannot say. */
  const semanticErrors = () =>
    write(
      'bad-semantic.yaml',
      `store: { id: "0421" }${common()}
mqtt: { url: "${broker.url}", reconnect: { minMs: 5000, maxMs: 1000 } }
devices:
  - { id: lane-1, kind: serial-scanner, path: ${join(dir.path, 'scanner')}, reopen: { minMs: 900, maxMs: 100 } }
  - { id: lane-1, kind: serial-scanner }
`,
    );
  const semanticPaths = ['/devices/0/reopen/minMs', '/devices/1/id', '/devices/1', '/mqtt/reconnect/minMs'];

  /** `run` refuses before opening anything: no buffer file, no broker connection, no API port. */
  async function expectRunRefused(file: string, paths: string[]) {
    const before = readdirSync(dir.path).sort();
    const r = await runCli(['run', '--config', file]);
    expect(r.signal).toBeNull();
    expect(r.code).toBe(EXIT.CONFIG);
    const n = paths.length;
    expect(r.stderr).toContain(`${file} is invalid (${n} error${n === 1 ? '' : 's'}):\n`);
    const lines = issueLines(r.stderr);
    expect(lines.map((l) => l.slice(2, l.indexOf(': ')))).toEqual(paths);
    // No logger was even created: nothing on stdout.
    expect(r.stdout).toBe('');
    // Nothing created beside the config: no buffer.db, -wal, -shm, .seq reservation.
    expect(readdirSync(dir.path).sort()).toEqual(before);
    // Let a connection the child might have made reach the listener before counting.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(broker.connections()).toBe(0);
    expect(await portOpen(apiPort)).toBe(false);
    return r;
  }

  it('run: schema errors are all listed with their paths, exit 78, nothing opened', async () => {
    const r = await expectRunRefused(schemaErrors(), schemaPaths);
    console.log(`invalid config (schema): exit ${r.code}, ${issueLines(r.stderr).length} errors listed`);
  });

  it('run: cross-field errors are all listed with their paths, exit 78, nothing opened', async () => {
    const r = await expectRunRefused(semanticErrors(), semanticPaths);
    console.log(`invalid config (cross-field): exit ${r.code}, ${issueLines(r.stderr).length} errors listed`);
  });

  it('run: a YAML syntax error is reported with its line, exit 78, nothing opened', async () => {
    const file = write('broken.yaml', `store: { id: "0421" }${common()}mqtt: { url: "${broker.url}"\n`);
    const r = await expectRunRefused(file, ['/']);
    expect(issueLines(r.stderr)[0]).toMatch(/line \d+, column \d+/);
  });

  it('config check: the same errors as run, and a non-zero exit', async () => {
    for (const [file, paths] of [
      [schemaErrors(), schemaPaths],
      [semanticErrors(), semanticPaths],
    ] as const) {
      const run = await runCli(['run', '--config', file]);
      const check = await runCli(['config', 'check', file]);
      expect(check.code).toBe(EXIT.CONFIG);
      expect(check.stdout).toBe('');
      expect(issueLines(check.stderr).map((l) => l.slice(2, l.indexOf(': ')))).toEqual(paths);
      expect(check.stderr).toBe(run.stderr);
    }
    expect(readdirSync(dir.path).some((f) => f.startsWith('buffer.db'))).toBe(false);
    expect(broker.connections()).toBe(0);
  });

  it('config check: a valid file passes with exit 0', async () => {
    const file = write(
      'good.yaml',
      `store: { id: "0421" }${common()}
mqtt: { url: "${broker.url}", protocolVersion: 5 }
devices:
  - { id: lane-1, kind: serial-scanner, path: ${join(dir.path, 'scanner')}, framing: { suffix: "\\r\\n" }, aim: true }
`,
    );
    const r = await runCli(['config', 'check', file]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(EXIT.OK);
    expect(r.stdout).toContain(`${file}: ok (store 0421, gateway gw-1, 1 device)`);
    // Checking is not running: still nothing opened.
    expect(readdirSync(dir.path).some((f) => f.startsWith('buffer.db'))).toBe(false);
    expect(broker.connections()).toBe(0);
  });

  it('every listed error reads as a sentence: no "undefined" in a message', async () => {
    const r = await runCli(['config', 'check', schemaErrors()]);
    expect(r.code).toBe(EXIT.CONFIG);
    const bad = issueLines(r.stderr).filter((l) => l.includes('undefined'));
    expect(bad, 'messages naming an undefined limit').toEqual([]);
  });
});
