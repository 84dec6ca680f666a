import { type ChildProcess, spawn } from 'node:child_process';
import { rootPath } from '../../src/paths.js';
import { waitFor } from './wait.js';

export const CLI = rootPath('dist', 'src', 'cli', 'main.js');

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/**
 * The real daemon in a child process (the built CLI), for tests that kill it. JSON log lines are
 * parsed as they arrive; `apiUrl` comes from the "local API listening" line.
 */
export class GatewayProcess {
  readonly lines: LogLine[] = [];
  stderr = '';
  apiUrl: string | undefined;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly proc: ChildProcess;
  private partial = '';

  constructor(args: string[], env: NodeJS.ProcessEnv = {}) {
    this.proc = spawn(process.execPath, [CLI, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    this.proc.stdout?.on('data', (d: Buffer) => this.onStdout(d.toString()));
    this.proc.stderr?.on('data', (d: Buffer) => {
      this.stderr += d.toString();
    });
    this.exit = new Promise((resolve) => this.proc.once('exit', (code, signal) => resolve({ code, signal })));
  }

  static run(configFile: string, env?: NodeJS.ProcessEnv): GatewayProcess {
    return new GatewayProcess(['run', '--config', configFile], env);
  }

  private onStdout(text: string): void {
    const parts = (this.partial + text).split('\n');
    this.partial = parts.pop() ?? '';
    for (const raw of parts) {
      if (!raw.trim()) continue;
      try {
        const line = JSON.parse(raw) as LogLine;
        this.lines.push(line);
        if (line.msg === 'local API listening' && typeof line.url === 'string') this.apiUrl = line.url;
      } catch {
        this.lines.push({ level: 30, msg: raw });
      }
    }
  }

  get pid(): number {
    return this.proc.pid as number;
  }

  get alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Waits until /readyz answers 200. */
  async ready(timeoutMs = 15_000): Promise<void> {
    await waitFor(
      async () => {
        if (!this.alive) throw new Error(`gateway exited early: ${this.stderr}\n${this.tail()}`);
        if (!this.apiUrl) return false;
        const res = await fetch(`${this.apiUrl}/readyz`).catch(() => null);
        return res?.status === 200;
      },
      'gateway ready',
      timeoutMs,
      50,
    );
  }

  async status(): Promise<Record<string, unknown>> {
    const res = await fetch(`${this.apiUrl}/v1/status`);
    return (await res.json()) as Record<string, unknown>;
  }

  waitForLog(predicate: (l: LogLine) => boolean, what: string, timeoutMs = 10_000): Promise<LogLine> {
    return waitFor(() => this.lines.find(predicate), what, timeoutMs) as Promise<LogLine>;
  }

  tail(n = 20): string {
    return this.lines
      .slice(-n)
      .map((l) => JSON.stringify(l))
      .join('\n');
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL') {
    if (this.alive) this.proc.kill(signal);
    return this.exit;
  }
}
