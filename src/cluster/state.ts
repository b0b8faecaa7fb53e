/** Moved to store/state.ts (issue 17 item 3); this re-export keeps the remaining importers working until they move. */
export { openState, withState, type State } from '../store/state.js';
