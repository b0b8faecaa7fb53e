# The TLS engine (src/tls): accept, handshake and record layer in C over OpenSSL's libssl, on worker threads.
LIBS += libsbdtls.so
libsbdtls_SRCS := tls-engine.c tls-worker.c tls-dial.c tls-relay.c tls-mux.c tls-context.c tls-tickets.c tls-sources.c tls-text.c
libsbdtls_LDLIBS := -lssl -lcrypto -lpthread
