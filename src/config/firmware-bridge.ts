/**
 * The validated `firmwareBridge` section turned into firmware-bridge's options, in one place for both
 * ways the bridge runs (inside `serve`, and `tributary bridge`). The bridge imports nothing from
 * `src/`, so every default comes from the config schema, through here.
 *
 * The password file is read here, once at start: a file that cannot be read is a ConfigError naming
 * `firmwareBridge.broker.passwordFile` (exit 2), and the password never reaches a log line.
 */
import fs from 'node:fs';
import type { BridgeLogger, BridgeOptions } from '../../firmware-bridge/src/index.js';
import { ConfigError } from '../errors.js';
import type { FirmwareBridgeConfig } from './load.js';
import { readPasswordFile } from './files.js';

export function firmwareBridgeOptions(c: FirmwareBridgeConfig, broker: { host: string; port: number }, logger: BridgeLogger): BridgeOptions {
  const m = c.mqttsn;
  return {
    broker: { ...broker, username: c.broker.username, password: readPassword(c.broker.passwordFile) },
    clientIdPrefix: c.clientIdPrefix,
    gatewayId: m.gatewayId,
    udp: m.udp,
    serial: c.serial,
    predefinedTopics: new Map(Object.entries(m.predefinedTopics).map(([id, name]) => [Number(id), name])),
    advertiseIntervalS: m.advertise.intervalS,
    advertiseTarget: { address: m.advertise.address, port: m.advertise.port },
    devicesMax: m.devicesMax,
    topicsPerDeviceMax: m.topicsPerDeviceMax,
    queueMessagesMax: m.bufferedMessagesMax,
    publishesInFlightMax: m.publishesInFlightMax,
    retryIntervalMs: m.retryIntervalMs,
    retriesMax: m.retriesMax,
    connectTimeoutMs: m.connectTimeoutMs,
    allowClientIds: m.allowClientIds === undefined ? null : new Set(m.allowClientIds),
    logger,
  };
}

/** `mqtt://HOST:PORT` (the schema checked the shape). */
export function parseBrokerUrl(url: string): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || 1883) };
}

function readPassword(file: string | undefined): Buffer | undefined {
  return file === undefined ? undefined : Buffer.from(readPasswordFile(file, 'firmwareBridge.broker.passwordFile'));
}
