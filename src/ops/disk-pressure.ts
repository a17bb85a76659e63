/**
 * Disk pressure as a small state machine: from the data dir's free bytes and the log's record bytes,
 * decide the cap on the log's size (null: no cap).
 *
 * LMDB never gives pages back to the filesystem, so deleting records does not raise free space; it
 * makes room inside the file that new appends reuse. So when free space falls under the floor, the
 * cap is set once to (log bytes − deficit): the file stops growing and the deficit's worth of pages
 * is ready for new data. The cap is only lowered again if free space keeps falling (something else
 * is filling the disk), and lifted once free space is back above the floor plus a margin, so it does
 * not flap around the floor.
 */

export interface PressureState {
  limitBytes: number | null;
  /** Free bytes when the cap was last set. */
  freeAtLimitBytes: number;
}

export interface PressureInputs {
  freeBytes: number;
  logBytes: number;
  floorBytes: number;
}

export const PRESSURE_IDLE: PressureState = { limitBytes: null, freeAtLimitBytes: 0 };

export function nextPressure(state: PressureState, i: PressureInputs): PressureState {
  const marginBytes = Math.max(16 * 1024 * 1024, Math.floor(i.floorBytes / 10));
  if (state.limitBytes === null) {
    if (i.freeBytes >= i.floorBytes) return state;
    return { limitBytes: Math.max(0, i.logBytes - (i.floorBytes - i.freeBytes)), freeAtLimitBytes: i.freeBytes };
  }
  if (i.freeBytes >= i.floorBytes + marginBytes) return PRESSURE_IDLE;
  if (i.freeBytes < state.freeAtLimitBytes) {
    return { limitBytes: Math.max(0, state.limitBytes - (state.freeAtLimitBytes - i.freeBytes)), freeAtLimitBytes: i.freeBytes };
  }
  return state;
}
