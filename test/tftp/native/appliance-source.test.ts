/** test/tftp/appliance-source.test.ts again, served by sbd-tftpd's native data plane (its cache follows the store
 *  generation file: a certificate change is seen by the next request, a running transfer keeps its bytes). */
process.env.SBD_TFTP_ENGINE = 'native';
await import('../appliance-source.test.js');
