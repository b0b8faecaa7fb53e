/** In-place header edits of a proxied message that keep header order (a stateless proxy changes as little as it can). */
import { canonicalName } from '../core/messages/header-names.js';
import type { SipMessage } from '../core/messages/message.js';

/** Removes the first value of a list header (it may share a line with others). */
export function removeFirstValue(m: SipMessage, lname: string): void {
  const idx = m.headers.findIndex((h) => canonicalName(h.name) === lname);
  if (idx < 0) return;
  const field = m.headers[idx]!;
  const parts = splitFirst(field.value);
  if (parts === undefined) m.headers.splice(idx, 1);
  else m.headers[idx] = { name: field.name, value: parts };
  m.invalidate();
}

/** The value after its first top-level comma, or undefined when there is only one value. */
function splitFirst(value: string): string | undefined {
  let inQuote = false;
  let depth = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === '"' && value[i - 1] !== '\\') inQuote = !inQuote;
    else if (!inQuote && c === '<') depth++;
    else if (!inQuote && c === '>') depth--;
    else if (!inQuote && depth === 0 && c === ',') return value.slice(i + 1).trim();
  }
  return undefined;
}

/** Replaces the value of the first field of a header in place (keeps its position). */
export function replaceFirst(m: SipMessage, lname: string, value: string): void {
  const i = m.headers.findIndex((h) => canonicalName(h.name) === lname);
  if (i >= 0) m.headers[i] = { name: m.headers[i]!.name, value };
  m.invalidate();
}
