# sbd-tftpd's native data plane (src/tftp/native-server.ts): every TFTP socket and transfer in C on a thread of its own, libc only.
LIBS += libsbdtftp.so
libsbdtftp_SRCS := tftp-engine.c tftp-requests.c tftp-pool.c tftp-transfer.c tftp-options.c tftp-packet.c tftp-net.c tftp-log.c \
  tftp-opens.c tftp-files.c tftp-control.c tftp-config.c tftp-text.c tftp-folder.c
libsbdtftp_LDLIBS := -lpthread
