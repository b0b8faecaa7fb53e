// `node --import ./load-log.mjs …`: log every module the process loads (see load-log-hooks.mjs).
import { register } from 'node:module';

register('./load-log-hooks.mjs', import.meta.url);
