/**
 * The local Kafka API's numbers on serve's /metrics:
 *
 *   tributary_kafka_api_requests_total{api,error}                  requests answered, by API and error code (0: none)
 *   tributary_kafka_api_bad_input_total{reason}                    connections closed for bad input (src/kafka-api/server.ts)
 *   tributary_kafka_api_connections                                connections open now
 *   tributary_kafka_api_group_lag_records{group,stream,partition}  records past each local group's committed offset
 *
 * The lag is read at scrape time from the coordinator, so it never goes stale.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { KafkaApiObserver } from '../kafka-api/index.js';

export interface KafkaApiLagProbe {
  groupLag(): Array<{ group: string; stream: string; partition: number; lagRecords: number }>;
}

export function kafkaApiMetrics(registry: Registry, probe: () => KafkaApiLagProbe | null): KafkaApiObserver {
  const registers = [registry];
  const requests = new Counter({ name: 'tributary_kafka_api_requests_total', help: 'Local Kafka API requests answered, by API and Kafka error code (0: none).', labelNames: ['api', 'error'], registers });
  const bad = new Counter({ name: 'tributary_kafka_api_bad_input_total', help: 'Local Kafka API connections closed for bad input, by reason.', labelNames: ['reason'], registers });
  const connections = new Gauge({ name: 'tributary_kafka_api_connections', help: 'Local Kafka API connections open.', registers });
  const lag: Gauge<'group' | 'stream' | 'partition'> = new Gauge({
    name: 'tributary_kafka_api_group_lag_records',
    help: "Records in the log past a local consumer group's committed offset.",
    labelNames: ['group', 'stream', 'partition'],
    registers,
    collect: () => {
      lag.reset();
      for (const l of probe()?.groupLag() ?? []) lag.set({ group: l.group, stream: l.stream, partition: String(l.partition) }, l.lagRecords);
    },
  });
  return {
    request: (api, errorCode) => requests.inc({ api, error: String(errorCode) }),
    badInput: (reason) => bad.inc({ reason }),
    connections: (delta) => connections.inc(delta),
  };
}
