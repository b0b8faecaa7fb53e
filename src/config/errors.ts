import { SbdError } from '../lib/errors.js';

export class ConfigError extends SbdError {}
