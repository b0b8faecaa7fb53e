/*
 * The file cache: name → bytes Node gave us (FILE frames), so a boot storm's CTL/ITL/config requests never leave C.
 * An entry is valid while (it has no generation, or its generation equals the store's generation file) and (it has
 * no expiry, or it has not expired). A running transfer holds a reference: replacing, evicting or flushing an entry
 * only unlinks it, and the bytes go when the last transfer using them ends. Bounds: max_cached_files and
 * max_cache_bytes; the least recently used unreferenced entries leave first.
 *
 * The generation file is 8 bytes, a little-endian u64 the store rewrites in place (pwrite at offset 0) in every write
 * transaction. It is mapped read-only once and read per request, so checking costs no syscall; while it is missing
 * or shorter than 8 bytes, opening is retried on the timer sweep and entries with a generation are not trusted.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "tftp-internal.h"

static uint64_t hash_name(const uint8_t *p, size_t n) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

int files_init(file_cache *fc, uint64_t max_files, uint64_t max_bytes, const char *gen_path) {
  memset(fc, 0, sizeof *fc);
  fc->nbuckets = 1024;
  while (fc->nbuckets < max_files && fc->nbuckets < (1u << 20)) fc->nbuckets <<= 1;
  fc->buckets = calloc(fc->nbuckets, sizeof *fc->buckets);
  fc->max_files = max_files;
  fc->max_bytes = max_bytes;
  fc->gen_path = gen_path;
  fc->gen_fd = -1;
  if (!fc->buckets) return -1;
  files_gen_retry(fc);
  return 0;
}

void files_gen_retry(file_cache *fc) {
  if (!fc->gen_path || fc->gen_map) return;
  if (fc->gen_fd < 0) fc->gen_fd = open(fc->gen_path, O_RDONLY | O_CLOEXEC);
  if (fc->gen_fd < 0) return;
  struct stat st;
  if (fstat(fc->gen_fd, &st) < 0 || st.st_size < 8) return; /* keep the fd; look again on the next sweep */
  void *m = mmap(NULL, 8, PROT_READ, MAP_SHARED, fc->gen_fd, 0);
  if (m != MAP_FAILED) fc->gen_map = m;
}

static int generation_now(file_cache *fc, uint64_t *v) {
  if (!fc->gen_map) return 0;
  const volatile uint8_t *b = (const volatile uint8_t *)fc->gen_map;
  uint64_t x = 0;
  for (int i = 7; i >= 0; i--) x = (x << 8) | b[i];
  *v = x;
  return 1;
}

static void entry_free(file_entry *e) {
  free(e->block);
  free(e->ascii);
  free(e->name);
  free(e);
}

static void unlink_entry(file_cache *fc, file_entry *e) {
  file_entry **pp = &fc->buckets[hash_name((const uint8_t *)e->name, e->name_len) & (fc->nbuckets - 1)];
  while (*pp && *pp != e) pp = &(*pp)->hnext;
  if (*pp) *pp = e->hnext;
  if (e->lprev) e->lprev->lnext = e->lnext;
  else fc->head = e->lnext;
  if (e->lnext) e->lnext->lprev = e->lprev;
  else fc->tail = e->lprev;
  e->hnext = e->lprev = e->lnext = NULL;
  e->cached = 0;
  fc->count--;
  fc->bytes -= e->len + (e->ascii ? e->ascii_len : 0);
  if (e->refs == 0) entry_free(e);
}

void files_unref(file_cache *fc, file_entry *e) {
  (void)fc;
  if (--e->refs == 0 && !e->cached) entry_free(e);
}

file_entry *files_lookup(file_cache *fc, const uint8_t *name, size_t n, int64_t now) {
  file_entry *e = fc->buckets[hash_name(name, n) & (fc->nbuckets - 1)];
  while (e && !(e->name_len == n && memcmp(e->name, name, n) == 0)) e = e->hnext;
  if (!e) return NULL;
  uint64_t g;
  if ((e->has_gen && (!generation_now(fc, &g) || g != e->generation)) || (e->expiry && now >= e->expiry)) {
    unlink_entry(fc, e);
    return NULL;
  }
  if (e != fc->tail) { /* most recently used last */
    if (e->lprev) e->lprev->lnext = e->lnext;
    else fc->head = e->lnext;
    e->lnext->lprev = e->lprev;
    e->lprev = fc->tail;
    e->lnext = NULL;
    fc->tail->lnext = e;
    fc->tail = e;
  }
  return e;
}

file_entry *files_make(const uint8_t *name, size_t n, uint8_t *block, const uint8_t *bytes, uint64_t len,
                       uint64_t gen, int has_gen, int64_t expiry) {
  file_entry *e = calloc(1, sizeof *e);
  if (!e) return NULL;
  e->name = malloc(n + 1);
  if (!e->name) {
    free(e);
    return NULL;
  }
  memcpy(e->name, name, n);
  e->name[n] = 0;
  e->name_len = n;
  e->block = block;
  e->bytes = bytes;
  e->len = len;
  e->generation = gen;
  e->has_gen = has_gen;
  e->expiry = expiry;
  return e;
}

/* Caches e (replacing an entry of the same name) when it fits after evicting unreferenced entries; otherwise e
 * stays uncached and lives as long as its transfers. Frees e when nothing holds it. */
void files_insert(file_cache *fc, file_entry *e) {
  file_entry *old = fc->buckets[hash_name((const uint8_t *)e->name, e->name_len) & (fc->nbuckets - 1)];
  while (old && !(old->name_len == e->name_len && memcmp(old->name, e->name, e->name_len) == 0)) old = old->hnext;
  if (old) unlink_entry(fc, old);
  if (fc->max_files == 0 || e->len > fc->max_bytes) {
    if (e->refs == 0) entry_free(e);
    return;
  }
  file_entry *v = fc->head;
  while (v && (fc->count + 1 > fc->max_files || fc->bytes + e->len > fc->max_bytes)) {
    file_entry *next = v->lnext;
    if (v->refs == 0) unlink_entry(fc, v);
    v = next;
  }
  if (fc->count + 1 > fc->max_files || fc->bytes + e->len > fc->max_bytes) {
    if (e->refs == 0) entry_free(e);
    return;
  }
  size_t b = hash_name((const uint8_t *)e->name, e->name_len) & (fc->nbuckets - 1);
  e->hnext = fc->buckets[b];
  fc->buckets[b] = e;
  e->lprev = fc->tail;
  e->lnext = NULL;
  if (fc->tail) fc->tail->lnext = e;
  else fc->head = e;
  fc->tail = e;
  e->cached = 1;
  fc->count++;
  fc->bytes += e->len;
}

void files_flush(file_cache *fc) {
  while (fc->head) unlink_entry(fc, fc->head);
}

const uint8_t *files_data(file_cache *fc, file_entry *e, int netascii, uint64_t *len) {
  if (!netascii) {
    *len = e->len;
    return e->bytes;
  }
  if (!e->ascii_done) {
    uint64_t n = tftp_netascii_len(e->bytes, e->len);
    if (n != e->len) {
      e->ascii = malloc(n ? n : 1);
      if (!e->ascii) return NULL;
      tftp_to_netascii(e->bytes, e->len, e->ascii);
      e->ascii_len = n;
      if (e->cached) fc->bytes += n; /* counted with the entry; may pass the bound until the next insert evicts */
    }
    e->ascii_done = 1;
  }
  *len = e->ascii ? e->ascii_len : e->len;
  return e->ascii ? e->ascii : e->bytes;
}

void files_destroy(file_cache *fc) {
  files_flush(fc);
  free(fc->buckets);
  fc->buckets = NULL;
  if (fc->gen_map) munmap((void *)fc->gen_map, 8);
  if (fc->gen_fd >= 0) close(fc->gen_fd);
}
