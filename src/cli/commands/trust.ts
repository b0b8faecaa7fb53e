import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { Command } from '../command.js';
import { parse, required } from '../args.js';
import { parseTrustFile } from '../../trust/codec.js';
import { allRecordFields } from '../../trust/fields.js';
import { candidateFromPem, candidatesFromRecords, configSignerRoles, listSignerRoles } from '../../trust/candidates.js';
import { verifyParsed, type SignerCandidate } from '../../trust/verify.js';
import { formatTrustFile } from '../../trust/show.js';

function loadCandidates(signers: string[] = [], trust: string[] = [], kind: string): SignerCandidate[] {
  const out: SignerCandidate[] = [];
  for (const s of signers) out.push(candidateFromPem(readFileSync(s, 'utf8'), basename(s)));
  for (const t of trust) {
    const file = parseTrustFile(readFileSync(t), { kind: 'tlv' });
    out.push(...candidatesFromRecords(allRecordFields(file), kind === 'tlv' ? listSignerRoles : configSignerRoles, basename(t)));
  }
  return out;
}

export const commands: Command[] = [
  {
    path: ['itl', 'show'],
    summary: 'print every header field and record of a CTL/ITL/.sgn/.enc.sgn file and whether its signature is valid',
    usage: 'sbd itl show FILE [--signer CERT.pem]... [--trust ITL_OR_CTL.tlv]...',
    run(args, ctx) {
      const { values, positionals } = parse(args, {
        signer: { type: 'string', multiple: true },
        trust: { type: 'string', multiple: true },
      });
      const path = required(positionals[0], 'FILE');
      const bytes = readFileSync(path);
      const file = parseTrustFile(bytes);
      const result = verifyParsed(bytes, file, loadCandidates(values.signer, values.trust, file.kind));
      ctx.out(formatTrustFile(result, path));
      return result.valid ? 0 : 1;
    },
  },
  {
    path: ['verify'],
    summary: 'verify the signature of a .tlv/.sgn/.enc.sgn file (exit 0 only when valid)',
    usage: 'sbd verify FILE [--signer CERT.pem]... [--trust ITL_OR_CTL.tlv]...   (.sgn files need --signer or --trust)',
    run(args, ctx) {
      const { values, positionals } = parse(args, {
        signer: { type: 'string', multiple: true },
        trust: { type: 'string', multiple: true },
      });
      const path = required(positionals[0], 'FILE');
      const bytes = readFileSync(path);
      const file = parseTrustFile(bytes);
      const candidates = loadCandidates(values.signer, values.trust, file.kind);
      const result = verifyParsed(bytes, file, candidates);
      if (result.valid) ctx.out(`${path}: signature valid (signer: ${result.signer})`);
      else if (file.kind !== 'tlv' && candidates.length === 0)
        ctx.err(
          `${path}: no signer to check against: a ${file.kind} file names its signer (${result.header.signerName}) but carries no certificate; pass --signer CERT.pem or --trust ITLFile.tlv`,
        );
      else
        ctx.err(
          `${path}: signature invalid (signer named in the header: ${result.header.signerName}, serial ${result.header.signerSerial.toString('hex')})`,
        );
      return result.valid ? 0 : 1;
    },
  },
];
