/**
 * Per room: error codes declared in a table, written inline but typed by it, written inline untyped (a typo would
 * compile); and what each assert.throws/rejects of the room's tests matches (issue 17 item 6). The analysis is
 * test/architecture/error-codes.ts. Run: node --import tsx scripts/error-codes-count.ts [room…]
 * (VERBOSE=1 also lists each untyped code and each assert that does not check a code.)
 */
import { countErrorCodes, TABLED_ROOMS } from '../test/architecture/error-codes.js';

const rooms = process.argv.length > 2 ? process.argv.slice(2) : [...TABLED_ROOMS, 'sip', 'daemons', 'sdp'];
const { rows, untyped, notByCode } = countErrorCodes(rooms, process.cwd());
const n = (v: number, w: number) => String(v).padStart(w);
console.log('room          declared  typed  untyped | throws/rejects: code  message  class  bare');
for (const [room, r] of rows) {
  console.log(
    `${room.padEnd(13)} ${n(r.declared, 8)} ${n(r.typed, 6)} ${n(r.untyped, 8)} |${' '.repeat(17)}${n(r.code, 4)} ${n(r.message, 8)} ${n(r.klass, 6)} ${n(r.bare, 5)}`,
  );
}
if (process.env.VERBOSE) for (const s of [...untyped, ...notByCode]) console.log(s);
