/*
 * What bench's two C TLS load clients share (sip-tls-client, tvs-tls-client): the failure causes they count, the
 * clocks, their own CPU and the fatal exit. Include after the system headers, with LOAD_CLIENT_NAME defined (the
 * program's name in its error messages).
 */
#ifndef SBD_BENCH_LOAD_CLIENT_H
#define SBD_BENCH_LOAD_CLIENT_H

enum { F_CONNECT, F_HANDSHAKE, F_CLOSED, F_STATUS, F_PROTOCOL, F_TIMEOUT, F_COUNT };
static const char *const F_NAMES[F_COUNT] = {"connect", "handshake", "closed", "status", "protocol", "timeout"};

static void die(const char *what, const char *arg) {
  fprintf(stderr, LOAD_CLIENT_NAME ": %s%s\n", what, arg ? arg : "");
  exit(2);
}

static double nowMs(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* This process's CPU seconds so far, user + system (getrusage). */
static double cpuS(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* qsort order of latencies (doubles). */
static int byValue(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

#endif
