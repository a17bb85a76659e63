/**
 * Narrow declarations for the untyped CommonJS modules ingest uses: qlobber (the topic matcher aedes
 * itself matches subscriptions with) and aedes-packet's constructor. Only what we call is declared.
 */
declare module 'qlobber' {
  export interface QlobberOptions {
    separator?: string;
    wildcard_one?: string;
    wildcard_some?: string;
    match_empty_levels?: boolean;
  }
  /** A set of topic filters; `test(topic)` says whether any of them matches. */
  export class QlobberTrue {
    constructor(options?: QlobberOptions);
    add(filter: string): this;
    test(topic: string): boolean;
  }
  const qlobber: { QlobberTrue: typeof QlobberTrue };
  export default qlobber;
}

declare module 'qlobber/aedes/qlobber-sub.js' {
  import type { QlobberOptions } from 'qlobber';
  export interface SubEntry {
    clientId: string;
    topic: string;
    qos: number;
    rh?: number | undefined;
    rap?: boolean | undefined;
    nl?: boolean | undefined;
  }
  /** qlobber specialised for aedes subscriptions: one value per (filter, clientId). */
  export default class QlobberSub {
    constructor(options?: QlobberOptions);
    readonly subscriptionsCount: number;
    add(filter: string, sub: SubEntry): this;
    remove(filter: string, sub: { clientId: string; topic: string }): this;
    match(topic: string): SubEntry[];
  }
}
