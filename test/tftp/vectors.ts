/**
 * Shared TFTP test vectors: request bytes (and the served file's size, and limits that differ from the defaults) →
 * the first packet the server answers with. test/tftp/vectors.test.ts runs every vector through the TypeScript core
 * (src/tftp/core/request.ts firstReply) and, through koffi, through the C engine's functions
 * (sbd_tftp_first_reply), and both must give these exact bytes.
 */
export interface TftpVector {
  name: string;
  /** The datagram at the request port. */
  request: Buffer;
  fileSize: number;
  /** Limits other than the defaults (limits.ts names). */
  limits?: {
    netascii?: boolean;
    maxWindowsize?: number;
    maxBlksize?: number;
    maxTimeoutS?: number;
    maxRequestBytes?: number;
    maxFilenameLength?: number;
  };
  /** The reply: ERROR/OACK bytes as hex, 'data' (DATA 1 follows, no OACK) or 'none' (nothing is sent). */
  reply: string;
}

const z = (...parts: (string | Buffer)[]): Buffer =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p + '\0', 'latin1') : p)));
const op = (n: number) => Buffer.from([0, n]);
const rrq = (name: string, mode = 'octet', ...opts: string[]) => z(op(1), name, mode, ...opts);

export const tftpVectors: TftpVector[] = [
  { name: 'plain RRQ', request: rrq('SEP001122334455.cnf.xml'), fileSize: 6000, reply: 'data' },
  {
    name: 'blksize and tsize',
    request: rrq('CTLSEP001122334455.tlv', 'octet', 'blksize', '1428', 'tsize', '0'),
    fileSize: 7000,
    reply: '0006626c6b73697a650031343238007473697a65003730303000',
  },
  {
    name: 'option names in any case, mode in any case',
    request: rrq('a.bin', 'OcTeT', 'BlkSize', '512'),
    fileSize: 10,
    reply: '0006626c6b73697a650035313200',
  },
  {
    name: 'timeout 255 declined (issue 16 row 12), nothing else asked',
    request: rrq('a.bin', 'octet', 'timeout', '255'),
    fileSize: 10,
    reply: 'data',
  },
  {
    name: 'timeout 5 granted',
    request: rrq('a.bin', 'octet', 'timeout', '5', 'blksize', '1024'),
    fileSize: 10,
    reply: '000674696d656f7574003500626c6b73697a65003130323400',
  },
  {
    name: 'timeout above a lower maxTimeoutS',
    request: rrq('a.bin', 'octet', 'timeout', '5'),
    fileSize: 10,
    limits: { maxTimeoutS: 4 },
    reply: 'data',
  },
  {
    name: 'windowsize above the maximum is lowered',
    request: rrq('a.bin', 'octet', 'windowsize', '1000'),
    fileSize: 10,
    reply: '000677696e646f7773697a6500363400',
  },
  {
    name: 'blksize above maxBlksize is lowered',
    request: rrq('a.bin', 'octet', 'blksize', '65464'),
    fileSize: 10,
    limits: { maxBlksize: 1428 },
    reply: '0006626c6b73697a65003134323800',
  },
  {
    name: 'blksize below 8',
    request: rrq('a.bin', 'octet', 'blksize', '4'),
    fileSize: 10,
    reply: '000500086f7074696f6e20626c6b73697a653d34206973206f75747369646520382e2e363534363400',
  },
  {
    name: 'blksize not a number',
    request: rrq('a.bin', 'octet', 'blksize', '1e3'),
    fileSize: 10,
    reply:
      '000500086f7074696f6e20626c6b73697a652068617320612076616c75652074686174206973206e6f74206120646563696d616c206e756d6265723a20223165332200',
  },
  { name: 'unknown option ignored', request: rrq('a.bin', 'octet', 'multicast', ''), fileSize: 10, reply: 'data' },
  {
    name: 'tsize of a large file',
    request: rrq('big.bin', 'octet', 'tsize', '0'),
    fileSize: 4_294_967_296,
    reply: '00067473697a65003432393439363732393600',
  },
  { name: 'netascii', request: rrq('a.txt', 'netascii'), fileSize: 10, reply: 'data' },
  {
    name: 'netascii when not served',
    request: rrq('a.txt', 'netascii'),
    fileSize: 10,
    limits: { netascii: false },
    reply: '000500047472616e73666572206d6f646520226e6574617363696922206973206e6f7420737570706f7274656400',
  },
  {
    name: 'mail mode',
    request: rrq('a.txt', 'mail'),
    fileSize: 10,
    reply: '000500047472616e73666572206d6f646520226d61696c22206973206e6f7420737570706f7274656400',
  },
  {
    name: 'write request',
    request: z(op(2), 'upload.bin', 'octet'),
    fileSize: 10,
    reply: '0005000277726974652072657175657374732061726520726566757365643a20746869732073657276657220697320726561642d6f6e6c7900',
  },
  { name: 'ERROR at the request port', request: z(op(5), Buffer.from([0, 1]), 'nope'), fileSize: 10, reply: 'none' },
  { name: 'ACK at the request port (stray)', request: Buffer.from([0, 4, 0, 1]), fileSize: 10, reply: 'none' },
  { name: 'DATA at the request port (stray)', request: Buffer.from([0, 3, 0, 1, 65]), fileSize: 10, reply: 'none' },
  {
    name: 'one byte',
    request: Buffer.from([1]),
    fileSize: 10,
    reply: '000500047061636b6574206f6620312062797465732069732073686f72746572207468616e20616e206f70636f646500',
  },
  { name: 'unknown opcode', request: z(op(9), 'x', 'octet'), fileSize: 10, reply: '00050004756e6b6e6f776e206f70636f6465203900' },
  {
    name: 'RRQ without its final NUL',
    request: Buffer.from('\x00\x01a.bin\x00octet', 'latin1'),
    fileSize: 10,
    reply: '00050004525251206d6f6465206973206e6f74204e554c2d7465726d696e6174656400',
  },
  {
    name: 'option without a value',
    request: Buffer.concat([rrq('a.bin'), Buffer.from('blksize\0', 'latin1')]),
    fileSize: 10,
    reply: '000500046f7074696f6e2022626c6b73697a652220686173206e6f204e554c2d7465726d696e617465642076616c756500',
  },
  {
    name: 'request longer than maxRequestBytes',
    request: rrq('a'.repeat(600)),
    fileSize: 10,
    reply: '0005000472657175657374206f6620363039206279746573206973206c6f6e676572207468616e2035313200',
  },
  {
    name: 'name longer than maxFilenameLength',
    request: rrq('n'.repeat(40)),
    fileSize: 10,
    limits: { maxFilenameLength: 32 },
    reply: '0005000266696c65206e616d65206f66203430206279746573206973206c6f6e676572207468616e20333200',
  },
  { name: 'empty name', request: rrq(''), fileSize: 10, reply: '00050002656d7074792066696c65206e616d6500' },
  {
    name: 'parent segment',
    request: rrq('../etc/passwd'),
    fileSize: 10,
    reply: '00050002222e2e2220696e2066696c65206e616d6520726566757365643a20222e2e2f6574632f7061737377642200',
  },
  {
    name: 'absolute path',
    request: rrq('/etc/passwd'),
    fileSize: 10,
    reply: '000500026162736f6c757465207061746820726566757365643a20222f6574632f7061737377642200',
  },
  {
    name: 'drive letter',
    request: rrq('C:boot.ini'),
    fileSize: 10,
    reply: '0005000264726976652d6c6574746572207061746820726566757365643a2022433a626f6f742e696e692200',
  },
  {
    name: 'backslash',
    request: rrq('a\\b'),
    fileSize: 10,
    reply: '0005000266696c65206e616d6520636f6e7461696e732061206261636b736c6173683a2022615c5c622200',
  },
  {
    name: 'empty segment',
    request: rrq('a//b'),
    fileSize: 10,
    reply: '00050002656d707479206f7220222e222070617468207365676d656e7420726566757365643a2022612f2f622200',
  },
  {
    name: 'non-printable byte',
    request: rrq('a\x01b'),
    fileSize: 10,
    reply: '0005000266696c65206e616d6520636f6e7461696e732061206e6f6e2d7072696e7461626c65206279746520307830313a2022615c7530303031622200',
  },
  {
    name: 'latin1 byte',
    request: rrq('caf\xe9'),
    fileSize: 10,
    reply: '0005000266696c65206e616d6520636f6e7461696e732061206e6f6e2d7072696e7461626c65206279746520307865393a2022636166e92200',
  },
];
