/**
 * An SDP body (RFC 4566 §5) as its session-level lines and its media sections (each `m=` line with the lines
 * under it), and back. Only the structure: lines are kept as written, so a body passed through comes out with
 * the same lines in the same order (CRLF line ends, §5). Sans-I/O; the bounds are named options.
 */

/** Bounds on what is read of a body; lines and sections past them are dropped. */
export const sdpSectionLimits = { maxLines: 512, maxMediaSections: 16 } as const;
export type SdpSectionLimits = { maxLines?: number; maxMediaSections?: number };

export interface MediaSection {
  /** The m= line, e.g. "m=audio 4000 RTP/SAVP 0". */
  mline: string;
  /** The lines under it, up to the next m= line. */
  lines: string[];
}

export interface SdpSections {
  session: string[];
  media: MediaSection[];
}

/** Splits a body into session lines and media sections; empty lines are dropped, LF alone is accepted. */
export function splitSdp(sdp: string, limits: SdpSectionLimits = {}): SdpSections {
  const maxLines = limits.maxLines ?? sdpSectionLimits.maxLines;
  const maxMedia = limits.maxMediaSections ?? sdpSectionLimits.maxMediaSections;
  const lines = sdp
    .split(/\r?\n/)
    .filter((l) => l.length > 0)
    .slice(0, maxLines);
  const session: string[] = [];
  const media: MediaSection[] = [];
  for (const l of lines) {
    if (l.startsWith('m=')) media.push({ mline: l, lines: [] });
    else if (media.length === 0) session.push(l);
    else media[media.length - 1]!.lines.push(l);
  }
  return { session, media: media.slice(0, maxMedia) };
}

/** The body again, every line ended by CRLF. */
export function joinSdp(session: readonly string[], media: readonly MediaSection[]): string {
  return [...session, ...media.flatMap((m) => [m.mline, ...m.lines])].join('\r\n') + '\r\n';
}

/** An audio or video stream that is not disabled (port 0 rejects or disables a stream, RFC 3264 §6, §8.2). */
export function isActiveMedia(m: MediaSection): boolean {
  return m.mline.split(' ')[1] !== '0' && /^m=(audio|video) /.test(m.mline);
}
