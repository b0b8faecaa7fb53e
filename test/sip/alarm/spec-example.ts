/**
 * The DeviceTLInfo example of ../shared/spec/cisco-sip-phone.md §1, byte for byte (the body without the spec's
 * "… further String parameters may follow" note, which is prose, not XML), and its REFER head with the spec's
 * placeholders filled in by the test.
 */
export const SPEC_BODY = [
  '<?xml version="1.0" encoding="UTF-8"?>',
  '<x-cisco-alarm>',
  '<Alarm Name="DeviceTLInfo">',
  '<ParameterList>',
  '<String name="DeviceName">SEPC4B9CD808647</String>',
  '<String name="IPv4Address">192.168.15.20</String>',
  '<String name="IPv6Address"></String>',
  '<String name="CTL_Signature">Not Installed</String>',
  '<String name="CTL_TFTP_Server">N/A</String>',
  '<String name="ITL_Signature">3E 91 A3 5D A3 D6 BD B7 0F 09 21 98 18 3F 64 D3 B2 8E 80 15 </String>',
  '<String name="ITL_TFTP_Server">pub.example.local</String>',
  '</ParameterList>',
  '</Alarm>',
  '</x-cisco-alarm>',
  '',
].join('\n');

export const SPEC_ITL_SHA1 = '3e91a35da3d6bdb70f092198183f64d3b28e8015';

/** The spec's REFER with `<call control address>` = `server`, the phone at `phone` (host:port), over TCP. */
export function specRefer(o: {
  server: string;
  phone: string;
  callId: string;
  branch: string;
  tag: string;
  body?: string;
  deviceName?: string;
  fromUser?: string;
}): Buffer {
  const body = Buffer.from(o.body ?? SPEC_BODY, 'utf8');
  const phoneHost = o.phone.split(':')[0]!;
  const head = [
    `REFER sip:${o.server} SIP/2.0`,
    `Via: SIP/2.0/TCP ${o.phone};branch=${o.branch}`,
    `From: "Display" <sip:${o.fromUser ?? '7821'}@${phoneHost}>;tag=${o.tag}`,
    `To: <sip:${o.server}>`,
    `Call-ID: ${o.callId}`,
    'CSeq: 1000 REFER',
    'User-Agent: Cisco-CP7821/11.5.1',
    'Expires: 10',
    `Contact: <sip:6b1c0a4e-0d7e-4b2c-9a57-7a3a0a1f2d3c@${o.phone};transport=tcp>;+u.sip!devicename.ccm.cisco.com="${o.deviceName ?? 'SEPC4B9CD808647'}"`,
    'Require: norefersub',
    `Referred-By: "Display" <sip:${o.fromUser ?? '7821'}@${phoneHost}>`,
    `Refer-To: cid:082f1702@${phoneHost}`,
    `Content-Id: <082f1702@${phoneHost}>`,
    'Content-Type: application/x-cisco-alarm+xml',
    'Content-Disposition: session;handling=required',
    `Content-Length: ${body.length}`,
    '',
    '',
  ].join('\r\n');
  return Buffer.concat([Buffer.from(head, 'utf8'), body]);
}
