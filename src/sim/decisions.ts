/**
 * What a simulated phone decided, in words an administrator reads (`ITL trusted (first use)`, `config signature
 * valid`, `rejected ITL: signer not trusted …`), with a machine-readable verdict next to the text.
 */
export const Verdict = {
  /** Installed on trust on first use. */
  trusted: 'trusted',
  /** Installed (or, for a config, taken) after authentication. */
  accepted: 'accepted',
  /** Same bytes as the installed file: nothing to do. */
  unchanged: 'unchanged',
  rejected: 'rejected',
  /** The server does not have the file. */
  absent: 'absent',
  /** The transfer itself failed (timeout, TFTP error other than "file not found"). */
  failed: 'failed',
} as const;
export type Verdict = (typeof Verdict)[keyof typeof Verdict];

/** CAPF: an enrollment (or, from service-check, the CAPF server's certificate); HTTPS: a phone service's server certificate; TVS: the TVS server's certificate. */
export type DecisionSubject = 'CTL' | 'ITL' | 'config' | 'CAPF' | 'HTTPS' | 'TVS';

export interface Decision {
  subject: DecisionSubject;
  /** The name the phone asked for. */
  file: string;
  verdict: Verdict;
  text: string;
}

export function decision(subject: DecisionSubject, file: string, verdict: Verdict, text: string): Decision {
  return { subject, file, verdict, text };
}

/** `CN=ITLRecovery-sbd;OU=…` → the CN alone, for short messages. */
export function shortName(dn: string): string {
  const cn = /(?:^|[;,])\s*CN=([^;,]*)/i.exec(dn);
  return cn ? cn[1]! : dn;
}

export function formatDecision(d: Decision): string {
  return `${d.file.padEnd(30)} ${d.text}`;
}
