/** The log's public surface: everything outside src/log imports from here. */
export { Log, logPath } from './log.js';
export type { AppendListener, CursorEntry } from './log.js';
export { LOG_DEFAULTS, UPSTREAM_GROUP } from './types.js';
export type { LogObserver, LogOptions, PartitionInfo, PartitionRef, StreamInfo, StreamSpec } from './types.js';
export { LogReader } from './reader.js';
export type { ReadLimits } from './reader.js';
export type { LogRecord, QoS, RecordInput } from './record.js';
export type { DropReason } from './retention.js';
export type { WriteOp } from './store.js';
export { Router, partitionFor, partitionKeyOf, topicMatches } from './routing.js';
export type { Route, RouteSpec } from './routing.js';
