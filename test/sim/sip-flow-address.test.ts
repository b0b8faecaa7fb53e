/**
 * A simulated phone's SIP flow sends from the address it is given (bench/cluster gives each phone its own, as real
 * phones have): from one shared address a boot storm looks like phones behind one NAT, and sbd's flood guard bans
 * that address after a burst of challenges (sip/auth/flood-guard.ts). Real UDP sockets on loopback.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { test } from 'node:test';
import { SipFlow } from '../../src/sim/sip-ua/sip-flow.js';

test("a UDP flow sends from its localAddress, else from the system's choice", async (t) => {
  const server = dgram.createSocket('udp4');
  server.bind(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  const port = (server.address() as { port: number }).port;
  const from = async (localAddress?: string) => {
    const flow = await SipFlow.connect(
      { transport: 'udp', host: '127.0.0.1', port, ...(localAddress ? { localAddress } : {}) },
      () => {},
      () => {},
    );
    try {
      const got = once(server, 'message') as Promise<[Buffer, dgram.RemoteInfo]>;
      flow.send(Buffer.from('OPTIONS sip:x SIP/2.0\r\n\r\n'));
      const [, rinfo] = await got;
      assert.equal(flow.localAddress, rinfo.address, 'Via/Contact name the address the datagram came from');
      return rinfo.address;
    } finally {
      flow.close();
    }
  };
  assert.equal(await from('127.2.0.9'), '127.2.0.9');
  assert.equal(await from('127.2.1.200'), '127.2.1.200');
  assert.equal(await from(), '127.0.0.1');
});
