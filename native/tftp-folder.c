/*
 * Folder reads in the data plane: when Node's source is a plain folder (FolderFileSource, `sbd daemon tftp --root`),
 * the engine reads small files itself instead of sending OPEN and waiting for Node, which cost Node ~100 µs per
 * file — in a boot storm every phone's own config is a miss. The rules are FolderFileSource's, step for step, with
 * the same TFTP codes and messages: the path is resolved (realpath) and must stay inside the resolved root, opened
 * O_NOFOLLOW|O_NONBLOCK, must be a regular file within folder_max_file_bytes. What this file does not decide goes to
 * Node unchanged (folder_open returns 0): names outside a plain [A-Za-z0-9._-] path shape (Node's path.join
 * normalises them lexically), files above folder_read_max_bytes (Node reads those asynchronously), and any error
 * other than not-found/access (Node words it as ERR_TFTP_IO). Bytes read are kept for folder_ttl_ms as Node's TTL
 * cache would keep them (0: not kept).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "tftp-internal.h"

/* Segments of [A-Za-z0-9._-]+, separated by single '/', none of them "." or "..". */
static int plain_name(const uint8_t *p, size_t n) {
  if (n == 0 || p[0] == '/' || p[n - 1] == '/') return 0;
  size_t seg = 0;
  for (size_t i = 0; i <= n; i++) {
    if (i == n || p[i] == '/') {
      size_t len = i - seg;
      if (len == 0 || (len == 1 && p[seg] == '.') || (len == 2 && p[seg] == '.' && p[seg + 1] == '.')) return 0;
      seg = i + 1;
      continue;
    }
    uint8_t c = p[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
      return 0;
  }
  return 1;
}

static int refuse(uint16_t tcode, const char *code, uint16_t *tftp_code, const char **out_code) {
  *tftp_code = tcode;
  *out_code = code;
  return -1;
}

static int not_found(const uint8_t *name, size_t n, sb *msg, uint16_t *tftp_code, const char **code) {
  sb_str(msg, "file not found: ");
  sb_printable(msg, name, n);
  return refuse(ERR_TFTP_NOT_FOUND_TFTP, ERR_TFTP_NOT_FOUND_CODE, tftp_code, code);
}

/* accessViolation(`<before>"<name>"<after>`) */
static int access_violation(const char *before, const uint8_t *name, size_t n, const char *after, sb *msg,
                            uint16_t *tftp_code, const char **code) {
  sb_str(msg, before);
  sb_str(msg, "\"");
  sb_printable(msg, name, n);
  sb_str(msg, "\"");
  sb_str(msg, after);
  return refuse(ERR_TFTP_ACCESS_TFTP, ERR_TFTP_ACCESS_CODE, tftp_code, code);
}

int folder_open(engine *e, const uint8_t *name, size_t n, file_entry **out, uint16_t *tftp_code, const char **code,
                sb *msg) {
  const tftp_config *c = &e->cfg;
  if (!c->folder_root || !plain_name(name, n)) return 0;
  if (!e->folder_real) {
    e->folder_real = realpath(c->folder_root, NULL);
    if (!e->folder_real) return 0; /* Node words the unreadable root (ERR_TFTP_ROOT) */
    e->folder_real_len = strlen(e->folder_real);
  }
  size_t rl = e->folder_real_len;
  char path[PATH_MAX], real[PATH_MAX];
  if (rl + 1 + n + 1 > sizeof path) return 0;
  memcpy(path, e->folder_real, rl);
  path[rl] = '/';
  memcpy(path + rl + 1, name, n);
  path[rl + 1 + n] = 0;
  if (!realpath(path, real)) {
    if (errno == ENOENT || errno == ENOTDIR) return not_found(name, n, msg, tftp_code, code);
    if (errno == ELOOP) return access_violation("symlink loop: ", name, n, "", msg, tftp_code, code);
    if (errno == EACCES) return access_violation("permission denied: ", name, n, "", msg, tftp_code, code);
    return 0;
  }
  if (strncmp(real, e->folder_real, rl) != 0 || real[rl] != '/')
    return access_violation("", name, n, " resolves outside the TFTP root", msg, tftp_code, code);
  int fd = open(real, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return not_found(name, n, msg, tftp_code, code);
    if (errno == EACCES || errno == ELOOP) return access_violation("cannot open ", name, n, "", msg, tftp_code, code);
    return 0;
  }
  struct stat st;
  int rc = 0;
  if (fstat(fd, &st) != 0) goto done;
  if (S_ISDIR(st.st_mode)) {
    rc = access_violation("", name, n, " is a directory", msg, tftp_code, code);
    goto done;
  }
  if (!S_ISREG(st.st_mode)) {
    rc = access_violation("", name, n, " is not a regular file", msg, tftp_code, code);
    goto done;
  }
  if ((uint64_t)st.st_size > c->folder_max_file_bytes) {
    char after[64];
    sb a;
    sb_init(&a, after, sizeof after - 1);
    sb_str(&a, " is larger than ");
    sb_u64(&a, c->folder_max_file_bytes);
    sb_str(&a, " bytes");
    after[a.len] = 0;
    rc = access_violation("", name, n, after, msg, tftp_code, code);
    goto done;
  }
  if ((uint64_t)st.st_size > c->folder_read_max_bytes) goto done;
  size_t size = (size_t)st.st_size, got = 0;
  uint8_t *block = malloc(size ? size : 1);
  if (!block) goto done;
  while (got < size) { /* the file may shrink meanwhile: the bytes read are served, as Node does */
    ssize_t r = pread(fd, block + got, size - got, (off_t)got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      free(block);
      goto done;
    }
    if (r == 0) break;
    got += (size_t)r;
  }
  file_entry *f = files_make(name, n, block, block, got, 0, 0, c->folder_ttl_ms ? e->now + c->folder_ttl_ms : 0);
  if (!f) {
    free(block);
    goto done;
  }
  f->refs++; /* the caller's; files_unref when the request holds its own */
  if (c->folder_ttl_ms) files_insert(&e->files, f);
  e->c.folder_reads++;
  *out = f;
  rc = 1;
done:
  close(fd);
  return rc;
}
