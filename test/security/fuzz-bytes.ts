/**
 * Byte-level fuzzing pieces shared by the TVS and CAPF codec fuzzers: mutations of corpus messages, random split
 * points, and a counter of the bytes Buffer.concat copies (work a reader does per received byte).
 */
import fc from 'fast-check';

export type Mutation =
  | { op: 'flip'; at: number; bit: number }
  | { op: 'set'; at: number; byte: number }
  | { op: 'u16'; at: number; value: number }
  | { op: 'cut'; at: number }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'delete'; at: number; n: number }
  | { op: 'splice'; at: number; other: number; from: number };

/** `bytes`: the values worth setting for this protocol (ids, tags, commands). */
export function mutationArb(bytes: readonly number[]): fc.Arbitrary<Mutation> {
  return fc.oneof(
    fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ op: fc.constant('set' as const), at: fc.nat(), byte: fc.constantFrom(...bytes) }),
    // Length fields (header and element lengths) told lies.
    fc.record({
      op: fc.constant('u16' as const),
      at: fc.nat(),
      value: fc.oneof(fc.constantFrom(0, 1, 2, 3, 0x3fff, 0x4000, 0x4001, 0xfffe, 0xffff), fc.integer({ min: 0, max: 0xffff })),
    }),
    fc.record({ op: fc.constant('cut' as const), at: fc.nat() }),
    fc.record({ op: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ maxLength: 24 }) }),
    fc.record({ op: fc.constant('delete' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 16 }) }),
    fc.record({ op: fc.constant('splice' as const), at: fc.nat(), other: fc.nat(), from: fc.nat() }),
  );
}

/** Applies `ms` to a copy of `base`; a third of them land in the first `headBytes`, where parsing decides most. */
export function mutate(base: Buffer, ms: readonly Mutation[], corpus: readonly Buffer[], headBytes: number): Buffer {
  let b = Buffer.from(base);
  for (const m of ms) {
    const span = b.length + 1;
    const at = m.at % 3 === 0 ? m.at % Math.min(span, headBytes) : m.at % span;
    if (m.op === 'flip' && at < b.length) b[at]! ^= 1 << m.bit;
    else if (m.op === 'set' && at < b.length) b[at] = m.byte;
    else if (m.op === 'u16' && at + 2 <= b.length) b.writeUInt16BE(m.value, at);
    else if (m.op === 'cut') b = b.subarray(0, at);
    else if (m.op === 'insert') b = Buffer.concat([b.subarray(0, at), m.bytes, b.subarray(at)]);
    else if (m.op === 'delete') b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.n)]);
    else if (m.op === 'splice') {
      const o = corpus[m.other % corpus.length]!;
      b = Buffer.concat([b.subarray(0, at), o.subarray(m.from % (o.length + 1))]);
    }
  }
  return b;
}

/** `bytes` cut at the given (random) points: each split is a piece length, taken modulo what is left. */
export function pieces(bytes: Buffer, splits: readonly number[]): Buffer[] {
  const out: Buffer[] = [];
  let i = 0;
  for (const s of splits) {
    if (i >= bytes.length) break;
    const n = 1 + (s % Math.max(1, bytes.length - i));
    out.push(bytes.subarray(i, i + n));
    i += n;
  }
  if (i < bytes.length) out.push(bytes.subarray(i));
  return out;
}

/** Runs `fn` with Buffer.concat counting the bytes it produces; returns the count. */
export function concatBytes(fn: () => void): number {
  const concat = Buffer.concat;
  let copied = 0;
  Buffer.concat = ((list: readonly Uint8Array[], total?: number) => {
    const out = concat(list, total);
    copied += out.length;
    return out;
  }) as typeof Buffer.concat;
  try {
    fn();
  } finally {
    Buffer.concat = concat;
  }
  return copied;
}
