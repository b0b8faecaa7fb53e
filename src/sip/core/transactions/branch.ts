/**
 * Branch parameters for requests this element originates (RFC 3261 §8.1.1.7): the magic cookie followed by a
 * value unique in space and time, so the branch alone names the transaction (§17.1.3, §17.2.3).
 */
import { randomBytes } from 'node:crypto';
import { magicCookie } from '../messages/via.js';

/** `z9hG4bK` + 16 random bytes, base64url (22 token characters, §25.1). */
export function makeBranch(random: (n: number) => Buffer = randomBytes): string {
  return magicCookie + random(16).toString('base64url');
}

/** A tag for From/To (§19.3): at least 32 bits of randomness; we use 64. */
export function makeTag(random: (n: number) => Buffer = randomBytes): string {
  return random(8).toString('hex');
}
