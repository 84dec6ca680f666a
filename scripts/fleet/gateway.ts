import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { rootPath } from '../../src/paths.js';

/**
 * The V8 flags the service runs with: the node options of ExecStart in the systemd unit (the same
 * as SERVICE_NODE_FLAGS in bench/run.ts, which the benchmarks use).
 */
export function serviceNodeFlags(): string[] {
  const unit = readFileSync(rootPath('systemd', 'store-gateway.service'), 'utf8');
  const exec = /^ExecStart=(.*)$/m.exec(unit)?.[1];
  if (!exec) throw new Error('systemd/store-gateway.service has no ExecStart');
  const words = exec.trim().split(/\s+/).slice(1);
  const flags: string[] = [];
  for (const w of words) {
    if (!w.startsWith('--')) break;
    flags.push(w);
  }
  return flags;
}

interface LogLine {
  level?: number;
  msg?: string;
  url?: string;
  [key: string]: unknown;
}

/** An HTTP answer, body as text. */
export interface HttpAnswer {
  status: number;
  body: string;
}

/**
 * One gateway of the fleet: the built CLI (`bin/store-gateway.js run --config <file>`) in its
 * own process, started with the service's V8 flags. Its JSON log is read for the API address;
 * warnings and errors are kept for the report.
 */
export class FleetGateway {
  apiUrl: string | undefined;
  /** Log lines at warn level or above (the first 20). */
  readonly warnings: string[] = [];
  warningCount = 0;
  exitCode: number | null = null;
  exitSignal: NodeJS.Signals | null = null;
  stderr = '';
  /** Keep-alive connections to the local API (one per POS lane). */
  private agent: Agent;
  private proc: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private partial = '';

  constructor(
    readonly index: number,
    readonly storeId: string,
    readonly gatewayId: string,
    readonly configFile: string,
    private readonly lanes: number,
  ) {
    this.agent = new Agent({ keepAlive: true, maxSockets: lanes + 2 });
  }

  get key(): string {
    return `${this.storeId}/${this.gatewayId}`;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  get alive(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  start(nodeFlags: string[]): void {
    this.apiUrl = undefined;
    this.partial = '';
    this.agent = new Agent({ keepAlive: true, maxSockets: this.lanes + 2 });
    const proc = spawn(
      process.execPath,
      [...nodeFlags, rootPath('bin', 'store-gateway.js'), 'run', '--config', this.configFile],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.proc = proc;
    proc.stdout?.on('data', (d: Buffer) => this.onStdout(d.toString()));
    proc.stderr?.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000);
    });
    this.exited = new Promise((resolve) =>
      proc.once('exit', (code, signal) => {
        this.exitCode = code;
        this.exitSignal = signal;
        resolve();
      }),
    );
  }

  private onStdout(text: string): void {
    const parts = (this.partial + text).split('\n');
    this.partial = parts.pop() ?? '';
    for (const raw of parts) {
      if (!raw.trim()) continue;
      let line: LogLine;
      try {
        line = JSON.parse(raw) as LogLine;
      } catch {
        line = { level: 40, msg: raw };
      }
      if (line.msg === 'local API listening' && typeof line.url === 'string') this.apiUrl = line.url;
      if ((line.level ?? 30) >= 40) {
        this.warningCount++;
        if (this.warnings.length < 20) this.warnings.push(raw.slice(0, 400));
      }
    }
  }

  /** Waits until /readyz answers 200 with the broker connected; throws after `timeoutMs`. */
  async ready(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!this.alive) throw new Error(`gateway ${this.key} exited: ${this.stderr.slice(-500)}`);
      if (this.apiUrl) {
        const res = await this.get('/readyz').catch(() => null);
        if (res?.status === 200) {
          const body = JSON.parse(res.body) as { broker?: { connected?: boolean } };
          if (body.broker?.connected) return;
        }
      }
      if (Date.now() > deadline) throw new Error(`gateway ${this.key} not ready within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** One request to the local API over the keep-alive agent. */
  http(
    method: string,
    path: string,
    body?: string,
    headers: Record<string, string> = {},
  ): Promise<HttpAnswer> {
    const base = new URL(this.apiUrl as string);
    return new Promise((resolve, reject) => {
      const req = request(
        {
          agent: this.agent,
          host: base.hostname,
          port: base.port,
          method,
          path,
          headers: body === undefined ? headers : { ...headers, 'content-length': Buffer.byteLength(body) },
          timeout: 30_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
          );
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error('request timed out')));
      req.on('error', reject);
      req.end(body);
    });
  }

  get(path: string): Promise<HttpAnswer> {
    return this.http('GET', path);
  }

  async status(): Promise<Record<string, unknown> | null> {
    const res = await this.get('/v1/status').catch(() => null);
    return res?.status === 200 ? (JSON.parse(res.body) as Record<string, unknown>) : null;
  }

  /** SIGTERM (a clean stop), SIGKILL after `graceMs`. */
  async stop(graceMs = 15_000): Promise<void> {
    this.agent.destroy();
    if (!this.alive) return this.exited;
    this.proc?.kill('SIGTERM');
    const timer = setTimeout(() => this.proc?.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** SIGKILL now (for an interrupted run). */
  killNow(): void {
    if (this.alive) this.proc?.kill('SIGKILL');
  }
}
