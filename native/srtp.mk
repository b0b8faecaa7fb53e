# The SRTP/SRTCP engine (src/media): packet transforms over OpenSSL's libcrypto or the kernel's AF_ALG.
LIBS += libsbdsrtp.so
libsbdsrtp_SRCS := srtp-core.c srtp-rtcp.c srtp-openssl.c srtp-bytes.c srtp-builtin-gcm.c srtp-afalg.c
libsbdsrtp_LDLIBS := -lcrypto
