/** The abstract test suite aedes-persistence ships for implementations (CommonJS, untyped). */
declare module 'aedes-persistence/abstract.js' {
  import type { test } from 'node:test';
  interface AbstractOptions {
    test: typeof test;
    persistence: () => Promise<object> | object;
    /** The persistence is an async (aedes 1.x) one: `setup(broker)` is awaited, no callbacks. */
    testAsync: boolean;
    waitForReady?: boolean;
  }
  const abstractPersistence: (options: AbstractOptions) => void;
  export default abstractPersistence;
}
