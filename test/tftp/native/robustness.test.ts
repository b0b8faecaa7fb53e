/** test/tftp/robustness.test.ts again, against sbd-tftpd's native data plane (src/tftp/native-server.ts). */
process.env.SBD_TFTP_ENGINE = 'native';
await import('../robustness.test.js');
