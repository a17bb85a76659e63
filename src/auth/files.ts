/**
 * Reads the files `mqtt.auth` names: the password file (password-file.ts) and the ACL (acl-file.ts).
 * Both are parsed before either is returned, so a caller that swaps in the result on SIGHUP changes
 * nothing when one of them is bad. Errors are ConfigErrors naming the key, and for a bad line the file
 * and line number.
 */
import { readConfiguredFile } from '../config/files.js';
import type { Config } from '../config/load.js';
import { Acl } from './acl-file.js';
import { parsePasswordFile, type PasswordEntry } from './password-file.js';

export interface AuthFiles {
  /** null: no password file configured. */
  passwords: Map<string, PasswordEntry> | null;
  /** null: no ACL configured (everything allowed). */
  acl: Acl | null;
}

export function readAuthFiles(auth: Config['mqtt']['auth']): AuthFiles {
  const { passwordFile, aclFile } = auth;
  const passwords = passwordFile === undefined ? null : parsePasswordFile(readConfiguredFile(passwordFile, 'mqtt.auth.passwordFile').toString('utf8'), passwordFile);
  const acl = aclFile === undefined ? null : Acl.parse(readConfiguredFile(aclFile, 'mqtt.auth.aclFile').toString('utf8'), aclFile);
  return { passwords, acl };
}
