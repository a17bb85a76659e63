/** Every command the CLI has, in help order. A command is a function that registers itself on yargs. */
import type { Argv } from 'yargs';
import { bridgeCommand } from './bridge.js';
import { checkConfigCommand } from './check-config.js';
import { logCommand } from './log.js';
import { passwdCommand } from './passwd.js';
import { serveCommand } from './serve.js';
import { statusCommand } from './status.js';

export type Command = (cli: Argv) => Argv;

export const commands: Command[] = [serveCommand, statusCommand, logCommand, checkConfigCommand, passwdCommand, bridgeCommand];
