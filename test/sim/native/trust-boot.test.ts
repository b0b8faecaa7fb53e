/** test/sim/trust-boot.test.ts again, the simulated phones booting from sbd-tftpd's native data plane. */
process.env.SBD_TFTP_ENGINE = 'native';
await import('../trust-boot.test.js');
