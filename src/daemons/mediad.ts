/** sbd-mediad: load the WAV sources, serve them as RTP/SRTP with a control port, tell systemd, stop on SIGTERM/SIGINT. */
import { readFileSync } from 'node:fs';
import { createLogger } from '../lib/log.js';
import { notifyReady } from '../lib/sd-notify.js';
import { waitForSignal } from '../lib/signals.js';
import { MediaControlServer, MediaServer, parseWav, type MediaServerOptions } from '../media/streaming/index.js';

export interface MediadOptions extends Omit<MediaServerOptions, 'logger'> {
  /** The sources by name: a WAV file each. */
  sources: { name: string; file: string }[];
  /** The control port (loopback); default 0 (any). */
  controlPort?: number;
}

/** Runs until a signal; resolves with the process exit code. */
export async function runMediad({ sources, controlPort, ...options }: MediadOptions): Promise<number> {
  const logger = createLogger('mediad');
  const media = new MediaServer({ ...options, logger });
  for (const s of sources) media.addSource(s.name, parseWav(readFileSync(s.file)));
  const rtp = await media.listen();
  const control = new MediaControlServer(media, { port: controlPort ?? 0 });
  const ctl = await control.listen();
  logger.info('ready', { rtp, control: ctl, sources: media.sources });
  const systemd = notifyReady(`media on ${rtp.address}:${rtp.port}, control ${ctl.address}:${ctl.port}`);
  return waitForSignal(async () => {
    systemd.stopping();
    logger.info('stopping', { ...media.stats() });
    await control.close();
    await media.close();
  });
}
