#include "encoder_kernels.h"

#include <string.h>

// Sixteen lanes: one AVX-512 register, two AVX2 registers or four SSE registers, whichever
// variant the loader picked.
typedef float vf16 __attribute__((ext_vector_type(16)));
typedef unsigned int vu16 __attribute__((ext_vector_type(16)));
typedef float vf8 __attribute__((ext_vector_type(8)));
typedef float vf4 __attribute__((ext_vector_type(4)));

#define VARIANTS __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#define WIDTH 16

// The helpers are macros, not inline functions: a 64-byte vector passed to a function compiled
// without AVX-512 changes the calling convention, which clang refuses even where it would inline.
#define load(p)                  \
  ({                             \
    vf16 loaded_;                \
    memcpy(&loaded_, (p), 64);   \
    loaded_;                     \
  })
#define store(p, v)              \
  do {                           \
    const vf16 stored_ = (v);    \
    memcpy((p), &stored_, 64);   \
  } while (0)
#define splat(x) ((vf16)(x))
#define lane_max(a, b) __builtin_elementwise_max((a), (b))

// Pairwise: the halves added until one lane is left.
#define lane_sum(v)                                   \
  ({                                                  \
    const vf16 whole_ = (v);                          \
    const vf8 eight_ = whole_.lo + whole_.hi;         \
    const vf4 four_ = eight_.lo + eight_.hi;          \
    (four_.x + four_.z) + (four_.y + four_.w);        \
  })

// e^x for x <= 0, lane by lane (see the header).
#define exp_nonpositive(x)                                                  \
  ({                                                                        \
    const vf16 clamped_ = lane_max((x), splat(-87.0f));                     \
    /* Adding 1.5·2^23 rounds x·log2(e) to an integer in the mantissa. */   \
    const vf16 magic_ = splat(12582912.0f);                                 \
    const vf16 shifted_ = clamped_ * 1.44269504f + magic_;                  \
    const vf16 n_ = shifted_ - magic_;                                      \
    const vf16 r_ = clamped_ - n_ * 0.69314575f - n_ * 1.4286068e-6f;       \
    vf16 series_ = r_ * 0.00138889f + 0.008333361f;                         \
    series_ = series_ * r_ + 0.041666668f;                                  \
    series_ = series_ * r_ + 0.16666667f;                                   \
    series_ = series_ * r_ + 0.5f;                                          \
    series_ = series_ * r_ + 1.0f;                                          \
    series_ = series_ * r_ + 1.0f;                                          \
    vu16 bits_;                                                             \
    memcpy(&bits_, &shifted_, 64);                                          \
    const vu16 exponent_ = (bits_ - 0x4B400000u + 127u) << 23;              \
    vf16 power_;                                                            \
    memcpy(&power_, &exponent_, 64);                                        \
    series_ * power_;                                                       \
  })

VARIANTS void hb_exponent_of_nonpositive(const float *x, float *out, long count) {
  long i = 0;
  for (; i + WIDTH <= count; i += WIDTH) store(out + i, exp_nonpositive(load(x + i)));
  for (; i < count; i++) out[i] = exp_nonpositive(splat(x[i]))[0];
}

VARIANTS void hb_add_bias_gelu(float *x, const float *bias, long count) {
  for (long i = 0; i < count; i += WIDTH) {
    const vf16 value = load(x + i) + load(bias + i);
    const vf16 z = __builtin_elementwise_abs(value) * 0.70710677f;
    const vf16 t = 1.0f / (z * 0.3275911f + 1.0f);
    vf16 poly = t * 1.061405429f - 1.453152027f;
    poly = poly * t + 1.421413741f;
    poly = poly * t - 0.284496736f;
    poly = poly * t + 0.254829592f;
    poly = poly * t;
    const vf16 erf_abs = 1.0f - poly * exp_nonpositive(-(z * z));
    // erf(v) takes the sign of v.
    vu16 sign, magnitude;
    memcpy(&sign, &value, sizeof sign);
    memcpy(&magnitude, &erf_abs, sizeof magnitude);
    const vu16 signed_bits = magnitude | (sign & 0x80000000u);
    vf16 erf;
    memcpy(&erf, &signed_bits, sizeof erf);
    store(x + i, 0.5f * value * (1.0f + erf));
  }
}

VARIANTS void hb_softmax(float *row, long count, float scale) {
  const long whole = count / WIDTH * WIDTH;
  vf16 peaks = splat(-__builtin_inff());
  for (long j = 0; j < whole; j += WIDTH) peaks = lane_max(peaks, load(row + j));
  float peak = __builtin_reduce_max(peaks);
  for (long j = whole; j < count; j++) peak = row[j] > peak ? row[j] : peak;
  vf16 sums = splat(0);
  for (long j = 0; j < whole; j += WIDTH) {
    const vf16 value = exp_nonpositive((load(row + j) - peak) * scale);
    store(row + j, value);
    sums += value;
  }
  float total = lane_sum(sums);
  for (long j = whole; j < count; j++) {
    row[j] = exp_nonpositive(splat((row[j] - peak) * scale))[0];
    total += row[j];
  }
  const float inverse = 1.0f / total;
  for (long j = 0; j < whole; j += WIDTH) store(row + j, load(row + j) * inverse);
  for (long j = whole; j < count; j++) row[j] *= inverse;
}

VARIANTS void hb_add_and_layer_norm(
    float *x, const float *residual, const float *bias, const float *weight, const float *shift,
    long count, float epsilon) {
  vf16 sums = splat(0);
  for (long i = 0; i < count; i += WIDTH) {
    vf16 value = load(x + i);
    if (residual) value += load(residual + i) + load(bias + i);
    store(x + i, value);
    sums += value;
  }
  const float mean = lane_sum(sums) / (float)count;
  vf16 squares = splat(0);
  for (long i = 0; i < count; i += WIDTH) {
    const vf16 centred = load(x + i) - mean;
    store(x + i, centred);
    squares += centred * centred;
  }
  const float variance = lane_sum(squares) / (float)count;
  const float inverse = 1.0f / __builtin_sqrtf(variance + epsilon);
  for (long i = 0; i < count; i += WIDTH)
    store(x + i, load(x + i) * inverse * load(weight + i) + load(shift + i));
}

// The same test the loader's resolver makes, for reports.
const char *hb_encoder_kernels_variant(void) {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("x86-64-v4")) return "x86-64-v4";
  if (__builtin_cpu_supports("x86-64-v3")) return "x86-64-v3";
  return "x86-64";
}
