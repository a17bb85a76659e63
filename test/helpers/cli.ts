/** Runs the built `tributary` CLI as a child process, the way a user or a script would. */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/cli/entry.cjs');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `timeoutMs`: the command is sent SIGTERM then (its code is then null), for commands that may not exit. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs?: number): Promise<CliResult> {
  return runProgram(process.execPath, [CLI, ...args], env, timeoutMs);
}

/** Runs any program to its end (or `timeoutMs`, then SIGTERM); resolves with its exit code and output, never rejects on a non-zero exit. */
export function runProgram(program: string, args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs?: number): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], ...(timeoutMs !== undefined && { timeout: timeoutMs }) });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export function jsonLines<T>(text: string): T[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as T);
}
