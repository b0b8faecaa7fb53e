/**
 * Which TLS path the dial-out tests take: the engine's (the transport's TLS listener runs on it, so its dials do
 * too) where libsbdtls.so is built, unless SBD_TLS_ENGINE=node (test/tls/sip-dial.test.ts: node:tls, the reference).
 */
import { tlsEngineAvailable } from '../../../src/tls/engine-library.js';

export const dialPath: 'engine' | 'node' = process.env.SBD_TLS_ENGINE !== 'node' && tlsEngineAvailable() ? 'engine' : 'node';
