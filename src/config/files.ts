/**
 * Reading a file that the config names (a password file, a token file, a certificate), at start or on
 * reload. A failure is a ConfigError naming the config key and the file, so `serve` exits 2 with a
 * message that says which setting to fix; the file's contents are never part of any message.
 */
import fs from 'node:fs';
import { ConfigError, errorMessage } from '../errors.js';

export function readConfiguredFile(file: string, key: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    // The code alone ("cannot read /etc/x (ENOENT)"): Node's own message would name the file twice.
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(`${key}: cannot read ${file} (${code ?? errorMessage(err)})`, key, { cause: err });
  }
}

/**
 * A file that holds one password (`firmwareBridge.broker.passwordFile`, `upstream.kafka.sasl.passwordFile`):
 * the whole file, less one trailing newline (`\n` or `\r\n`), so both `echo pw > f` and `printf pw > f`
 * work. Empty is a ConfigError: a password file with no password is a mistake, not "no password".
 */
export function readPasswordFile(file: string, key: string): string {
  const password = readConfiguredFile(file, key).toString('utf8').replace(/\r?\n$/, '');
  if (password.length === 0) throw new ConfigError(`${key}: ${file} is empty`, key);
  return password;
}
