/**
 * The small interfaces through which `ops` reads numbers owned by other layers.
 *
 * `ops` imports no domain module (DESIGN.md: "ops gets numbers through small probe interfaces handed to it
 * by broker.ts"). The broker builds an object of each shape from the log, the forwarder and the host
 * monitor and hands them to `createMetrics().attach(...)` and to whatever builds the status JSON.
 *
 * Every method is called on a scrape or a status request, on the event loop: it must answer from memory,
 * in microseconds, without I/O.
 */

export interface PartitionStats {
  stream: string;
  partition: number;
  /** The oldest offset still stored. */
  startOffset: number;
  /** The next offset to be written. */
  endOffset: number;
  records: number;
  bytes: number;
}

export interface LogProbe {
  partitions(): PartitionStats[];
  /** Bytes this process has written to disk since it started (`write_bytes` of /proc/self/io). */
  diskWrittenBytes(): number;
  /** Disk bytes written per payload byte appended; null until there is a payload byte to divide by. */
  writeAmplification(): number | null;
}

export interface PartitionLag {
  stream: string;
  partition: number;
  /** Records appended but not yet acknowledged by the upstream. */
  lagRecords: number;
  /** Age of the oldest record not yet forwarded; 0 when caught up. */
  lagSeconds: number;
}

/**
 * `connecting`: no connection attempt has had an outcome yet (start, before the first connect or send
 * answered); `offline`: the link is down; `degraded`: some partitions fail; `online`: Kafka accepts us.
 */
export type UpstreamState = 'connecting' | 'online' | 'degraded' | 'offline' | 'disabled';

/** Why the cluster refuses the connection, when it does: an operator must fix files or credentials. */
export type UpstreamRefusal = 'authentication' | 'tls';

export interface UpstreamStateReport {
  state: UpstreamState;
  lastError: string | null;
  /** Set while the link is down because Kafka refused the TLS handshake or the SASL login. */
  refusal: UpstreamRefusal | null;
}

export interface ForwardProbe {
  lag(): PartitionLag[];
  /** null when no upstream is configured: then no `tributary_upstream_up` sample is exported at all. */
  upstreamUp(): boolean | null;
  state(): UpstreamStateReport;
  /** Records Kafka acknowledged since start, over all partitions (a re-sent batch counts again). */
  forwardedRecords(): number;
}

export interface HostSample {
  /** Bytes an unprivileged user can still write on the data dir's filesystem (statfs `f_bavail`). */
  diskFreeBytes: number;
  diskTotalBytes: number;
  /** MemAvailable: what can be allocated without swapping, not MemFree. */
  memAvailableBytes: number;
  memTotalBytes: number;
  /** Percent of all CPUs busy since the previous sample, 0..100. */
  cpuLoadPercent: number;
  /** null when the host has no readable CPU temperature sensor. */
  cpuTemperatureCelsius: number | null;
  /** When the sample was taken, ms since the epoch. */
  sampledAt: number;
}

export interface HostProbe {
  /** The newest sample, or null before the first one completed. */
  latest(): HostSample | null;
}
