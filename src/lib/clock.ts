/** Time comes in from outside so codecs and builders stay deterministic in tests. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

export function fixedClock(ms: number): Clock {
  return { now: () => ms };
}

export function unixSeconds(clock: Clock): number {
  return Math.floor(clock.now() / 1000);
}
