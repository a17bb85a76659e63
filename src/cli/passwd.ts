/**
 * `tributary passwd [-c] [-b] [-D] [--password-stdin] FILE USER [PASSWORD]`: manages a password file in
 * Mosquitto's format (src/auth/password-file.ts), with mosquitto_passwd's flags:
 *
 *   -c                create FILE (replacing one that exists) holding only USER
 *   -b                batch: the password is the third argument (it then shows in `ps` and shell
 *                     history; prefer --password-stdin in scripts)
 *   -D                delete USER
 *   --password-stdin  read the password from the first line of standard input
 *   (none)            ask for it twice on the terminal, without echo
 *
 * The file is rewritten atomically: a temporary file beside it, mode 0600, synced, renamed over it, and
 * the directory synced, so a crash leaves the old file or the new one, never half of one. Other lines
 * (users, comments) are kept as they were. Run as root on a file the service user owns (install.sh's
 * /etc/tributary/passwd), the new file keeps that owner, so the broker can still read it.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Argv } from 'yargs';
import { assertUser, formatEntry, hashPassword, parsePasswordFile } from '../auth/password-file.js';
import { UsageError } from '../errors.js';
import { askHidden } from './prompt.js';

const FILE_MODE = 0o600;

export interface PasswdArgs {
  file: string;
  user: string;
  password?: string | undefined;
  create: boolean;
  batch: boolean;
  delete: boolean;
  passwordStdin: boolean;
}

export function passwdCommand(cli: Argv): Argv {
  return cli.command(
    'passwd <file> <user> [password]',
    "add, change (-c: create the file) or delete (-D) a user in a Mosquitto-format password file",
    (y) =>
      y
        .positional('file', { type: 'string', demandOption: true, describe: 'the password file' })
        .positional('user', { type: 'string', demandOption: true, describe: 'the user name' })
        .positional('password', { type: 'string', describe: 'the password, with -b only' })
        .option('c', { type: 'boolean', default: false, describe: 'create the file (replacing an existing one)' })
        .option('b', { type: 'boolean', default: false, describe: 'batch mode: the password is the third argument' })
        .option('D', { type: 'boolean', default: false, describe: 'delete the user' })
        .option('password-stdin', { type: 'boolean', default: false, describe: 'read the password from standard input' }),
    (args) =>
      passwd({
        file: args.file,
        user: args.user,
        password: args.password,
        create: args.c,
        batch: args.b,
        delete: args.D,
        passwordStdin: args['password-stdin'],
      }),
  );
}

export async function passwd(args: PasswdArgs): Promise<void> {
  assertUser(args.user);
  if (args.create && args.delete) throw new UsageError('-c and -D cannot be combined');
  if (args.batch && args.passwordStdin) throw new UsageError('-b and --password-stdin cannot be combined');
  if (args.password !== undefined && !args.batch) throw new UsageError('a password argument needs -b (or use --password-stdin)');
  if (args.batch && args.password === undefined && !args.delete) throw new UsageError('-b needs the password as the third argument');
  const lines = args.create ? [] : readLines(args.file);
  const at = lines.findIndex((line) => line.startsWith(`${args.user}:`));
  if (args.delete) {
    if (at < 0) throw new UsageError(`user "${args.user}" is not in ${args.file}`);
    lines.splice(at, 1);
  } else {
    const password = args.batch ? (args.password as string) : args.passwordStdin ? await readStdinLine() : await askTwice();
    if (password.length === 0) throw new UsageError('the password is empty');
    const line = formatEntry(await hashPassword(args.user, password));
    if (at >= 0) lines[at] = line;
    else lines.push(line);
  }
  const text = lines.map((l) => `${l}\n`).join('');
  parsePasswordFile(text, args.file); // never write a file the broker would refuse
  writeAtomic(args.file, text);
}

/** The file's lines (without the last empty one); a file that cannot be parsed is refused. */
function readLines(file: string): string[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(code === 'ENOENT' ? `${file} does not exist (use -c to create it)` : `cannot read ${file}: ${(err as Error).message}`);
  }
  parsePasswordFile(text, file);
  const lines = text.split(/\r?\n/);
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

function writeAtomic(file: string, text: string): void {
  const dir = path.dirname(path.resolve(file));
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.tmp`);
  const previous = fs.statSync(file, { throwIfNoEntry: false });
  const fd = fs.openSync(tmp, 'wx', FILE_MODE);
  try {
    fs.writeSync(fd, text);
    fs.fchmodSync(fd, FILE_MODE); // the umask may have narrowed or the file widened it
    // Only root may give a file away; anyone else's new file is theirs, as the old one was.
    if (previous !== undefined && process.getuid?.() === 0) fs.fchownSync(fd, previous.uid, previous.gid);
    fs.fsyncSync(fd);
  } catch (err) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  fs.closeSync(fd);
  fs.renameSync(tmp, file);
  const dirFd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(dirFd);
  } finally {
    fs.closeSync(dirFd);
  }
}

async function readStdinLine(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
}

async function askTwice(): Promise<string> {
  if (!process.stdin.isTTY) throw new UsageError('no terminal to ask for the password on: use -b or --password-stdin');
  const first = await askHidden('Password: ');
  const second = await askHidden('Reenter password: ');
  if (first !== second) throw new UsageError('the passwords do not match');
  return first;
}
