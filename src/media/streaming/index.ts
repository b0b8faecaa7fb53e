/** Media streaming sources (sbd-mediad): WAV → G.711 RTP/SRTP to many listeners. */
export {
  MediaServer,
  PACKET_MS,
  SAMPLES_PER_PACKET,
  type ListenerAnswer,
  type ListenerRequest,
  type MediaServerOptions,
  type MediaServerStats,
} from './media-server.js';
export { MediaControlServer, type ControlServerOptions } from './control-server.js';
export { MediaError, MediaErrorCode } from '../errors.js';
export { PAYLOAD_TYPE, buildWav, parseWav, type G711Codec, type WavAudio, type WavOptions } from './wav.js';
export { RtpStream } from './rtp-stream.js';
export { linearToAlaw, linearToUlaw } from './g711.js';
