// The MiniLM encoder's element-wise kernels: each is compiled three times (x86-64-v4 with
// AVX-512, x86-64-v3 with AVX2 and FMA, and baseline x86-64 with SSE2), and the loader picks the
// widest the CPU runs (GNU ifunc, through clang's target_clones). Widths here are counts of
// floats; rows of the encoder are multiples of 16 wide.
#ifndef ENCODER_KERNELS_H
#define ENCODER_KERNELS_H

// out[i] = e^x[i] for x[i] <= 0, over count elements: x = n·ln 2 + r with |r| <= ln 2 / 2,
// e^r by its Taylor polynomial to r^6 (relative error below 2e-6), 2^n built in the exponent
// bits; below -87 about 2^-126.
void hb_exponent_of_nonpositive(const float *x, float *out, long count);

// x = GELU(x + bias) over count elements (a multiple of 16), GELU(v) = v/2 · (1 + erf(v/√2)),
// erf from Abramowitz & Stegun 7.1.26 (absolute error <= 1.5e-7).
void hb_add_bias_gelu(float *x, const float *bias, long count);

// Softmax of one row of count scores multiplied by scale (> 0), in place.
void hb_softmax(float *row, long count, float scale);

// x = LayerNorm(x + residual + bias) · weight + shift over one row of count elements (a
// multiple of 16); residual and bias may be NULL (plain LayerNorm of x).
void hb_add_and_layer_norm(
    float *x, const float *residual, const float *bias, const float *weight, const float *shift,
    long count, float epsilon);

// The name of the variant the loader picked on this CPU: "x86-64-v4", "x86-64-v3" or
// "x86-64".
const char *hb_encoder_kernels_variant(void);

#endif
