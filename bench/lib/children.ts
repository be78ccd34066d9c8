/**
 * The peers run as child processes. Every child started here is tracked until it exits, and killed (SIGKILL) when
 * the bench exits or is ended by a signal, so a cancelled or failed run never leaves a JVM or a stage behind.
 * Output goes to a log file; stdout lines can also be watched as they come (stage logs, S1's stats lines).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ChildOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  logFile: string;
  /** Called with each stdout line and the wall-clock time it arrived. */
  onLine?: (line: string, atMs: number) => void;
}

const live = new Set<ChildProcess>();
let hooked = false;

function killAll(): void {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      // gone already
    }
  }
}

/** SIGKILLs every live child when the bench exits or is ended; once per process. */
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      console.error(`bench: ${signal}: stopping ${live.size} child process(es)`);
      killAll();
      process.exit(130);
    });
  }
}

export class Child {
  readonly exited: Promise<ChildExit>;
  /** Resolves once the log file holds everything the child wrote (after exit). */
  readonly logClosed: Promise<void>;
  private running = true;

  private constructor(
    readonly name: string,
    private readonly proc: ChildProcess & { pid: number },
    log: WriteStream,
    onLine: ((line: string, atMs: number) => void) | undefined,
  ) {
    live.add(proc);
    // 'close', not 'exit': it comes once stdout is drained too, so a tool's last line (R0's figures) is read.
    this.exited = new Promise((resolve) => {
      proc.once('close', (code, signal) => {
        this.running = false;
        live.delete(proc);
        resolve({ code, signal });
      });
    });
    if (proc.stdout) {
      createInterface({ input: proc.stdout }).on('line', (line) => {
        log.write(`${line}\n`);
        onLine?.(line, Date.now());
      });
    }
    proc.stderr?.on('data', (chunk: Buffer) => log.write(chunk));
    this.logClosed = new Promise((resolve) =>
      log.once('close', () => {
        resolve();
      }),
    );
    void this.exited.then(() => {
      // Let readline drain what is buffered before the file closes.
      setImmediate(() => log.end());
    });
  }

  static start(name: string, command: string, args: string[], options: ChildOptions): Child {
    hookExit();
    const log = createWriteStream(options.logFile, { flags: 'a' });
    log.write(`# ${new Date().toISOString()} ${command} ${args.join(' ')}\n`);
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (child.pid === undefined) throw new Error(`cannot start ${name}: ${command}`);
    return new Child(name, child as ChildProcess & { pid: number }, log, options.onLine);
  }

  get pid(): number {
    return this.proc.pid;
  }

  get isRunning(): boolean {
    return this.running;
  }

  signal(signal: NodeJS.Signals): void {
    if (this.running) this.proc.kill(signal);
  }

  /** `signal` (SIGTERM unless given), then SIGKILL after `graceMs`; resolves once the process is gone. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 20_000): Promise<ChildExit> {
    this.signal(signal);
    const cancel = new AbortController();
    const timeout = sleep(graceMs, 'timeout' as const, { signal: cancel.signal }).catch(
      () => 'cancelled' as const,
    );
    const first = await Promise.race([this.exited, timeout]);
    cancel.abort();
    if (first === 'timeout') {
      console.error(`bench: ${this.name} (pid ${this.pid}) ignored ${signal} for ${graceMs} ms; SIGKILL`);
      this.signal('SIGKILL');
    }
    return this.exited;
  }
}
