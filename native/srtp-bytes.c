/*
 * The byte work around the AES-ECB keystream of the OpenSSL backend (srtp-openssl.c): writing the counter
 * blocks before the ECB call and XORing the keystream into the payload after it. At 1,200 bytes these two
 * loops are ~150 16-byte stores a packet and bound by store throughput, so on x86-64 CPUs with AVX2 they run
 * 32 bytes a store (chosen once at run time, sbd_bytes_init); elsewhere 16 bytes a store (SSE2 on x86-64,
 * NEON on arm64), through the GCC/Clang vector extension. Loads and stores go through memcpy: no alignment
 * is assumed.
 */
#include <string.h>
#include "srtp.h"

typedef uint8_t v16 __attribute__((vector_size(16)));

/* Counter blocks when only the last octet changes (ctr0[15] + n <= 256): block j = ctr0 with octet 15
 * increased by j. Four independent chains, so the loop is bound by stores, not by the add latency. */
static void counters16(const uint8_t ctr0[16], int n, uint8_t *out) {
  v16 b0, one = {0}, four = {0};
  one[15] = 1, four[15] = 4;
  memcpy(&b0, ctr0, 16);
  v16 b1 = b0 + one, b2 = b1 + one, b3 = b2 + one;
  int j = 0;
  for (; j + 4 <= n; j += 4) {
    memcpy(out + 16 * j, &b0, 16), memcpy(out + 16 * j + 16, &b1, 16);
    memcpy(out + 16 * j + 32, &b2, 16), memcpy(out + 16 * j + 48, &b3, 16);
    b0 += four, b1 += four, b2 += four, b3 += four;
  }
  for (; j < n; j++, b0 += one) memcpy(out + 16 * j, &b0, 16);
}

static void xor16(uint8_t *out, const uint8_t *in, const uint8_t *k, size_t n) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    v16 a, b;
    memcpy(&a, in + i, 16), memcpy(&b, k + i, 16);
    a ^= b;
    memcpy(out + i, &a, 16);
  }
  for (; i < n; i++) out[i] = in[i] ^ k[i];
}

#if defined(__x86_64__) && defined(__GNUC__)
#define SBD_HAVE_AVX2_VARIANT 1
#include <immintrin.h>
typedef uint8_t v32 __attribute__((vector_size(32)));

/* Intrinsics rather than the vector extension here: built from memory, the two-block start vector went
 * through the stack and stalled on store forwarding. */
__attribute__((target("avx2"))) static void counters32(const uint8_t ctr0[16], int n, uint8_t *out) {
  /* loaded as 8 + 4 + 4 octets, the widths the IV builders store (srtp-core.c), so the loads are forwarded
   * from the store buffer instead of waiting for it to drain */
  int32_t w2, w3;
  memcpy(&w2, ctr0 + 8, 4), memcpy(&w3, ctr0 + 12, 4);
  __m128i c = _mm_insert_epi32(_mm_insert_epi32(_mm_loadl_epi64((const __m128i *)ctr0), w2, 2), w3, 3);
  __m128i one = _mm_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1);
  __m256i two = _mm256_broadcastsi128_si256(_mm_add_epi8(one, one));
  __m256i eight = _mm256_slli_epi16(two, 2); /* octet 15 of each half: 8 (no carries: 2 << 2 in a 16-bit lane) */
  __m256i b0 = _mm256_inserti128_si256(_mm256_castsi128_si256(c), _mm_add_epi8(c, one), 1); /* blocks j, j+1 */
  __m256i b1 = _mm256_add_epi8(b0, two), b2 = _mm256_add_epi8(b1, two), b3 = _mm256_add_epi8(b2, two);
  int j = 0;
  for (; j + 8 <= n; j += 8) {
    _mm256_storeu_si256((__m256i *)(out + 16 * j), b0), _mm256_storeu_si256((__m256i *)(out + 16 * j + 32), b1);
    _mm256_storeu_si256((__m256i *)(out + 16 * j + 64), b2), _mm256_storeu_si256((__m256i *)(out + 16 * j + 96), b3);
    b0 = _mm256_add_epi8(b0, eight), b1 = _mm256_add_epi8(b1, eight), b2 = _mm256_add_epi8(b2, eight);
    b3 = _mm256_add_epi8(b3, eight);
  }
  for (; j + 2 <= n; j += 2, b0 = _mm256_add_epi8(b0, two)) _mm256_storeu_si256((__m256i *)(out + 16 * j), b0);
  if (j < n) _mm_storeu_si128((__m128i *)(out + 16 * j), _mm256_castsi256_si128(b0));
}

__attribute__((target("avx2"))) static void xor32(uint8_t *out, const uint8_t *in, const uint8_t *k, size_t n) {
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    v32 a, b;
    memcpy(&a, in + i, 32), memcpy(&b, k + i, 32);
    a ^= b;
    memcpy(out + i, &a, 32);
  }
  xor16(out + i, in + i, k + i, n - i);
}

static int use_avx2;
void sbd_bytes_init(void) {
  __builtin_cpu_init();
  use_avx2 = __builtin_cpu_supports("avx2") ? 1 : 0; /* same value from every thread: a benign race */
}
#else
void sbd_bytes_init(void) {}
#endif

void sbd_counter_blocks(const uint8_t ctr0[16], int n, uint8_t *out) {
  if (ctr0[15] + n <= 256) {
#ifdef SBD_HAVE_AVX2_VARIANT
    if (use_avx2) {
      counters32(ctr0, n, out);
      return;
    }
#endif
    counters16(ctr0, n, out);
    return;
  }
  /* general case: 32-bit big-endian increment of the last word (GCM's inc32; AES-CM's 16-bit counter never
   * carries past 2^16 blocks in a packet, RFC 3711 §4.1.1, so it is the same) */
  uint32_t c = (uint32_t)ctr0[12] << 24 | (uint32_t)ctr0[13] << 16 | (uint32_t)ctr0[14] << 8 | ctr0[15];
  for (int j = 0; j < n; j++, c++) {
    uint8_t *b = out + 16 * j;
    memcpy(b, ctr0, 12);
    b[12] = (uint8_t)(c >> 24), b[13] = (uint8_t)(c >> 16), b[14] = (uint8_t)(c >> 8), b[15] = (uint8_t)c;
  }
}

void sbd_xor_bytes(uint8_t *out, const uint8_t *in, const uint8_t *k, size_t n) {
#ifdef SBD_HAVE_AVX2_VARIANT
  if (use_avx2) {
    xor32(out, in, k, n);
    return;
  }
#endif
  xor16(out, in, k, n);
}
