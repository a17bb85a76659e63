/** The forwarder's public surface: the broker and the benchmark import from here. */
export { createForwarder, kafkaSinkOptions, FORWARD_TUNING_DEFAULTS } from './forwarder.js';
export type { ForwardStatus, Forwarder, ForwarderOptions, ForwardTuning, PartitionForwardStatus } from './forwarder.js';
export { createKafkaSink } from './kafka-sink.js';
export type { KafkaCompression, KafkaSinkOptions, Sink, SinkRecord } from './kafka-sink.js';
export type { ForwardLog, LoopStatus } from './partition-loop.js';
