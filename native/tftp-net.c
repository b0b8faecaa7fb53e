/*
 * The bottom of the data plane's socket layer: UDP sockets, addresses as text, and ERROR packets sent from any
 * socket (RFC 1350 §5), counted by code. Calls only tftp-packet.c (encode) below it.
 */
#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>
#include "tftp-internal.h"

void peer_text(const peer *p, char *buf, size_t cap) {
  if (!inet_ntop(p->family == 4 ? AF_INET : AF_INET6, p->addr, buf, (socklen_t)cap) && cap) buf[0] = 0;
}

/* A non-blocking UDP socket; an IPv6 one also takes IPv4 ("::" is dual-stack). */
int udp_socket(int af) {
  int fd = socket(af, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int off = 0;
  if (fd >= 0 && af == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
  return fd;
}

void count_error(engine *e, uint16_t code) { e->c.errors_sent[code]++; }

void send_error_to(engine *e, int fd, const struct sockaddr *sa, socklen_t salen, uint16_t code, const char *msg,
                   size_t n) {
  count_error(e, code);
  size_t len = tftp_encode_error(e->tx, 65536, code, msg, n);
  e->c.bytes_sent += len;
  sendto(fd, e->tx, len, MSG_DONTWAIT, sa, salen);
}
