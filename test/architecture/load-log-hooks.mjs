// Module hooks (node:module register) that append every module URL Node loads to $SBD_LOAD_LOG, one a line.
import { appendFileSync } from 'node:fs';

export async function load(url, context, next) {
  if (process.env.SBD_LOAD_LOG) appendFileSync(process.env.SBD_LOAD_LOG, url + '\n');
  return next(url, context);
}
