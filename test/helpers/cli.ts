/**
 * Helpers to drive `bin/meshgate` as a user does: run a command to completion, or start a
 * long-running one (up, httpbin) and stop it with a signal.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { eventually } from './eventually.js';

/** BIN is the CLI under test, run from the checkout. */
export const BIN = fileURLToPath(new URL('../../bin/meshgate', import.meta.url));

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** runCli runs `meshgate ...args` to completion, optionally feeding stdin. */
export function runCli(args: readonly string[], opts: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  return runCommand(process.execPath, [BIN, ...args], opts);
}

/** runCommand runs any program (curl, openssl) to completion. */
export function runCommand(cmd: string, args: readonly string[], opts: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(opts.input ?? '');
  });
}

/** Background is a long-running meshgate process with its output collected. */
export interface Background {
  readonly child: ChildProcess;
  output(): string;
  /** stop sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** startCli starts `meshgate ...args` in the background. */
export function startCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): Background {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    output: () => out,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/**
 * upReady waits until a `meshgate up` answers /ready on its admin port. The wait is long: with
 * one proxy worker per core by default, `up` forks processes that each load the CLI, and the
 * test files run in parallel on a small CI machine. A failure carries up's output.
 */
export async function upReady(up: Background, adminPort: number): Promise<void> {
  try {
    await eventually(async () => {
      assert.equal(up.child.exitCode, null, 'meshgate up exited');
      assert.equal((await fetch(`http://127.0.0.1:${adminPort}/ready`)).status, 200);
    }, { timeoutMs: 60_000 });
  } catch (err) {
    throw new Error(`${(err as Error).message}\n--- meshgate up's output ---\n${up.output()}`);
  }
}
