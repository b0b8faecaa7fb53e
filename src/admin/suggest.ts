/**
 * Nearest-command suggestions for the admin shell: the command whose words are closest to what was typed, by
 * Levenshtein distance over the whole word sequence, accepted only within a bound that grows with the input
 * (so "shwo status" finds "show status" but "reboot now" finds nothing).
 */

export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

export interface SuggestOptions {
  /** Largest distance accepted, as a fraction of the candidate's length. Default 0.4. */
  maxRelativeDistance?: number;
}

/**
 * The candidate nearest to `typed`, comparing only as many words as each candidate has (arguments after a
 * command do not count against it). Undefined when nothing is near enough.
 */
export function nearest(
  typed: readonly string[],
  candidates: readonly (readonly string[])[],
  options: SuggestOptions = {},
): string | undefined {
  const ratio = options.maxRelativeDistance ?? 0.4;
  let best: { text: string; distance: number } | undefined;
  for (const words of candidates) {
    const text = words.join(' ');
    const input = typed.slice(0, words.length).join(' ').toLowerCase();
    const distance = editDistance(input, text);
    if (distance <= Math.max(1, Math.floor(text.length * ratio)) && (!best || distance < best.distance)) {
      best = { text, distance };
    }
  }
  return best?.text;
}
