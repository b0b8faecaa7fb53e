/**
 * The armed timers of many transactions, for the shell that runs them (one `setTimeout` for `nextAt()`) and for
 * tests that drive a fake clock. Sans-I/O: `apply` takes the layer's arm/cancel/terminated actions, `due(now)`
 * returns what has fired, earliest first.
 *
 * A binary heap ordered by deadline with lazy deletion: re-arming or cancelling only updates the map, and heap
 * entries whose generation no longer matches are skipped when they reach the top. Cost per timer is O(log n).
 */
import type { TransactionAction } from './actions.js';
import type { TimerName } from './timers.js';

interface Entry {
  at: number;
  gen: number;
  id: string;
  timer: TimerName;
}

export interface DueTimer {
  id: string;
  timer: TimerName;
  at: number;
}

export class TimerQueue {
  private heap: Entry[] = [];
  private readonly live = new Map<string, Entry>();
  private gen = 0;

  /** Number of armed timers. */
  get size(): number {
    return this.live.size;
  }

  apply(actions: Iterable<TransactionAction<unknown>>): void {
    for (const a of actions) {
      if (a.type === 'arm') this.arm(a.id, a.timer, a.at);
      else if (a.type === 'cancel') this.live.delete(slot(a.id, a.timer));
    }
  }

  arm(id: string, timer: TimerName, at: number): void {
    const e = { at, gen: ++this.gen, id, timer };
    this.live.set(slot(id, timer), e);
    this.push(e);
  }

  /** Deadline of the earliest armed timer. */
  nextAt(): number | undefined {
    this.dropStale();
    return this.heap[0]?.at;
  }

  /** Removes and returns every timer due at `now`, earliest first. */
  due(now: number): DueTimer[] {
    const out: DueTimer[] = [];
    for (;;) {
      this.dropStale();
      const top = this.heap[0];
      if (!top || top.at > now) return out;
      this.pop();
      this.live.delete(slot(top.id, top.timer));
      out.push({ id: top.id, timer: top.timer, at: top.at });
    }
  }

  private dropStale(): void {
    while (this.heap.length > 0) {
      const top = this.heap[0]!;
      if (this.live.get(slot(top.id, top.timer)) === top) return;
      this.pop();
    }
  }

  private push(e: Entry): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop()!;
    if (h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && before(h[l]!, h[m]!)) m = l;
      if (r < h.length && before(h[r]!, h[m]!)) m = r;
      if (m === i) return;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }
}

function slot(id: string, timer: TimerName): string {
  return `${id}\u0001${timer}`;
}

/** Deadline order; equal deadlines fire in arming order. */
function before(a: Entry, b: Entry): boolean {
  return a.at < b.at || (a.at === b.at && a.gen < b.gen);
}
