/** Captures: classic pcap codec, UDP frames, and the SRTP troubleshooting transform (`sbd srtp`). */
export { PcapError } from '../errors.js';
export { readPcap, writePcap, type PcapHeader, type PcapRecord } from './pcap-file.js';
export { parseUdpFrame, rebuildUdpFrame, type UdpFrame } from './udp-frame.js';
export { transformPcap, type SrtpPcapOptions, type StreamReport } from './srtp-pcap.js';
