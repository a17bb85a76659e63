/** Asking on the terminal for a secret, for the commands that need one (passwd, status). */
import readline from 'node:readline';
import { Writable } from 'node:stream';

/** Reads one line from the terminal without echoing it; the prompt goes to stderr. */
export function askHidden(prompt: string): Promise<string> {
  process.stderr.write(prompt);
  const silent = new Writable({ write: (_chunk, _encoding, done) => done() });
  const rl = readline.createInterface({ input: process.stdin, output: silent, terminal: true });
  return new Promise((resolve) =>
    rl.question('', (answer) => {
      rl.close();
      process.stderr.write('\n');
      resolve(answer);
    }),
  );
}
