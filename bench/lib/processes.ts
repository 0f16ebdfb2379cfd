// The servers under load run as child processes: their memory is their own, read from /proc.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

export interface Server {
  readonly name: string;
  readonly url: string;
  readonly pid: number;
  /** Samples the resident memory until the returned function is called, which answers the peak in MiB. */
  sampleMemory(): () => number | null;
  /** Resolves once the process has stopped working: a load's cut-off requests are still served after it ends. */
  settle(): Promise<void>;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
// A benchmark stopped half-way (Ctrl-C, a failed scenario) must not leave servers behind.
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

/** Resident memory in kB, from /proc/<pid>/status; null once the process is gone. */
function rssKb(pid: number): number | null {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

/** CPU time of the process, all its threads (libuv's pool included), in clock ticks; null once it is gone. */
function cpuTicks(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]); // utime, stime
  } catch {
    return null;
  }
}

/** Quiet: at most 3 ticks (of 100 a second) in 250 ms, twice in a row; at most a minute's wait. */
async function idle(pid: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  let quiet = 0;
  let last = cpuTicks(pid);
  while (quiet < 2 && Date.now() < deadline) {
    await sleep(250);
    const now = cpuTicks(pid);
    if (now === null || last === null) return;
    quiet = now - last <= 3 ? quiet + 1 : 0;
    last = now;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface StartOptions {
  name: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  url: string;
  /** A path answering 2xx once the server is ready to serve. */
  readyPath: string;
}

export async function startServer({ name, args, cwd, env, url, readyPath }: StartOptions): Promise<Server> {
  const child = spawn(process.execPath, args, { cwd, env: { ...process.env, NODE_ENV: 'production', ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  running.add(child);
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => running.delete(child));

  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode} before it was ready:\n${stderr}`);
    if (await fetch(`${url}${readyPath}`).then((r) => r.ok, () => false)) break;
    if (Date.now() > deadline) throw new Error(`${name} was not ready within a minute:\n${stderr}`);
    await sleep(100);
  }

  const pid = child.pid!;
  return {
    name,
    url,
    pid,
    sampleMemory() {
      let peakKb = rssKb(pid) ?? 0;
      const timer = setInterval(() => {
        peakKb = Math.max(peakKb, rssKb(pid) ?? 0);
      }, 100);
      return () => {
        clearInterval(timer);
        peakKb = Math.max(peakKb, rssKb(pid) ?? 0);
        return peakKb ? peakKb / 1024 : null;
      };
    },
    settle: () => idle(pid),
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const killed = await Promise.race([exited.then(() => true), sleep(10_000).then(() => false)]);
      if (!killed) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Runs a command to completion and answers its standard output; a non-zero exit is an error with its standard error. */
export function runToEnd(args: string[], { cwd, env }: { cwd: string; env: Record<string, string> }): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-4000)));
    child.once('error', reject);
    child.once('exit', (code) => {
      running.delete(child);
      if (code === 0) resolve(stdout);
      else reject(new Error(`node ${args.join(' ')} exited with ${code}:\n${stderr}`));
    });
  });
}
