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
    throw new ConfigError(`${key}: cannot read ${file}: ${errorMessage(err)}`, key, { cause: err });
  }
}
