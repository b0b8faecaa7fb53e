/*
 * Open connections per peer address, shared by the worker threads (one mutex: taken once at accept and once at
 * close). Open addressing with linear probing over a power-of-two table at least twice the connection cap, so a
 * probe always ends; deletion shifts the run back (no tombstones), so lookups stay short under churn.
 */
#include <stdlib.h>
#include <string.h>
#include "tls-internal.h"

typedef struct {
  uint8_t addr[16];
  uint32_t count; /* 0: free slot */
} slot;

struct sbd_tls_sources {
  pthread_mutex_t lock;
  uint32_t mask;
  slot *slots;
};

static uint32_t hash(const uint8_t a[16]) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (int i = 0; i < 16; i++) h = (h ^ a[i]) * 16777619u;
  return h;
}

sbd_tls_sources *sbd_tls_sources_new(uint32_t capacity) {
  uint32_t n = 64;
  while (n < 2 * capacity + 2) n <<= 1;
  sbd_tls_sources *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  t->slots = calloc(n, sizeof(slot));
  if (!t->slots) {
    free(t);
    return NULL;
  }
  t->mask = n - 1;
  pthread_mutex_init(&t->lock, NULL);
  return t;
}

void sbd_tls_sources_free(sbd_tls_sources *t) {
  if (!t) return;
  pthread_mutex_destroy(&t->lock);
  free(t->slots);
  free(t);
}

static uint32_t find(sbd_tls_sources *t, const uint8_t a[16]) {
  uint32_t i = hash(a) & t->mask;
  while (t->slots[i].count && memcmp(t->slots[i].addr, a, 16) != 0) i = (i + 1) & t->mask;
  return i;
}

int sbd_tls_sources_acquire(sbd_tls_sources *t, const uint8_t a[16], uint32_t limit) {
  pthread_mutex_lock(&t->lock);
  uint32_t i = find(t, a);
  int ok = t->slots[i].count < limit;
  if (ok) {
    memcpy(t->slots[i].addr, a, 16);
    t->slots[i].count++;
  }
  pthread_mutex_unlock(&t->lock);
  return ok;
}

void sbd_tls_sources_release(sbd_tls_sources *t, const uint8_t a[16]) {
  pthread_mutex_lock(&t->lock);
  uint32_t i = find(t, a);
  if (t->slots[i].count && --t->slots[i].count == 0) {
    /* Knuth's deletion for linear probing (TAOCP 6.4 Algorithm R): move later members of the run into the hole. */
    uint32_t hole = i;
    for (uint32_t j = (i + 1) & t->mask; t->slots[j].count; j = (j + 1) & t->mask) {
      uint32_t home = hash(t->slots[j].addr) & t->mask;
      int between = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
      if (between) continue;
      t->slots[hole] = t->slots[j];
      t->slots[j].count = 0;
      hole = j;
    }
  }
  pthread_mutex_unlock(&t->lock);
}
