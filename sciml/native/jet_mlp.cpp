// Taylor-mode jets of a tanh MLP on the CPU, forward and backward, processed in blocks of rows.
//
// The jet of a point is its value, its first derivatives by some inputs and its second derivatives
// for some pairs of those inputs (K "slots"; see sciml/taylor.py for the chain rules). The network is
//
//     h_0 = (x - center) / half,  z_l = W_l h_{l-1} + b_l,  h_l = tanh(z_l)  (l = 1..L-1),
//     y = W_L h_{L-1} + b_L.
//
// All K slots of a block of rb points are stored together, slot-major: slot k, row r, feature j
// at (k * rb + r) * w + j, so one matrix product of (K rb, w_in) by W_l^T moves every slot of the
// block through a linear layer. Blocks run in parallel over the torch threads with single-threaded
// matrix products (no synchronisation between layers; our own AVX-512 loops for float32 widths
// that are multiples of 16, BLAS otherwise); each block accumulates its own weight gradients,
// summed in block order at the end, so the result does not depend on which thread ran which
// block. Saved per hidden layer for the backward, in a workspace the caller provides: the
// pre-activation jets Z_l and the activation jets H_l (every slot, block layout).
//
// tanh is declared with GCC's simd attribute so that its loops vectorise through glibc's libmvec
// (vector tanh since glibc 2.35); everything else is plain IEEE arithmetic.

#include <torch/extension.h>

#include <ATen/Parallel.h>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include <cmath>
#include <type_traits>
#include <vector>

extern "C" {
__attribute__((simd("notinbranch"))) float tanhf(float) noexcept;
__attribute__((simd("notinbranch"))) double tanh(double) noexcept;
}

// BLAS as PyTorch's CPU library carries it (MKL on x86-64 builds): Fortran interface, column-major.
extern "C" {
void sgemm_(const char*, const char*, const int*, const int*, const int*, const float*, const float*, const int*,
            const float*, const int*, const float*, float*, const int*);
void dgemm_(const char*, const char*, const int*, const int*, const int*, const double*, const double*, const int*,
            const double*, const int*, const double*, double*, const int*);
}

namespace {

enum class TransposeType { NoTranspose, Transpose };

// C (m x n) = alpha op(A) op(B) + beta C, column-major, as BLAS gemm.
template <typename T>
void gemm(TransposeType ta, TransposeType tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
          const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  const char cta = ta == TransposeType::Transpose ? 'T' : 'N', ctb = tb == TransposeType::Transpose ? 'T' : 'N';
  const int im = static_cast<int>(m), in = static_cast<int>(n), ik = static_cast<int>(k);
  const int ilda = static_cast<int>(lda), ildb = static_cast<int>(ldb), ildc = static_cast<int>(ldc);
  if constexpr (std::is_same_v<T, float>) {
    sgemm_(&cta, &ctb, &im, &in, &ik, &alpha, a, &ilda, b, &ildb, &beta, c, &ildc);
  } else {
    dgemm_(&cta, &ctb, &im, &in, &ik, &alpha, a, &ilda, b, &ildb, &beta, c, &ildc);
  }
}

struct Plan {
  std::vector<int64_t> first;  // input index of each first-derivative slot
  std::vector<int64_t> pa, pb;  // positions, within `first`, of each second-order pair's indices
  int64_t n1() const { return static_cast<int64_t>(first.size()); }
  int64_t n2() const { return static_cast<int64_t>(pa.size()); }
  int64_t K() const { return 1 + n1() + n2(); }
};

inline float tanh_(float v) { return tanhf(v); }
inline double tanh_(double v) { return tanh(v); }

#if defined(__AVX512F__) && !defined(SCIML_NO_FAST_PRODUCTS)
// Row-major float products for widths that are multiples of 16, in AVX-512 registers, reading the
// operands where they lie: BLAS would first copy ("pack") the large operand, which costs a fifth of
// its time on these shapes (a profile of the backward pass: 13% of all samples in MKL's copy
// routines against 47% in its compute kernel).
constexpr bool kFastProducts = true;

// C (M x N) = A (M x Kd, row stride lda) B (Kd x N, row stride N); N a multiple of 16.
inline void mm_rows(int64_t M, int64_t N, int64_t Kd, const float* A, int64_t lda, const float* B, float* C) {
  int64_t r = 0;
  for (; r + 8 <= M; r += 8) {
    const float* a = A + r * lda;
    for (int64_t j = 0; j < N; j += 32) {
      if (j + 32 <= N) {
        __m512 c[8][2];
        for (int i = 0; i < 8; ++i) c[i][0] = c[i][1] = _mm512_setzero_ps();
        for (int64_t k = 0; k < Kd; ++k) {
          const __m512 b0 = _mm512_loadu_ps(B + k * N + j), b1 = _mm512_loadu_ps(B + k * N + j + 16);
          for (int i = 0; i < 8; ++i) {
            const __m512 ai = _mm512_set1_ps(a[i * lda + k]);
            c[i][0] = _mm512_fmadd_ps(ai, b0, c[i][0]);
            c[i][1] = _mm512_fmadd_ps(ai, b1, c[i][1]);
          }
        }
        for (int i = 0; i < 8; ++i) {
          _mm512_storeu_ps(C + (r + i) * N + j, c[i][0]);
          _mm512_storeu_ps(C + (r + i) * N + j + 16, c[i][1]);
        }
      } else {
        __m512 c[8];
        for (int i = 0; i < 8; ++i) c[i] = _mm512_setzero_ps();
        for (int64_t k = 0; k < Kd; ++k) {
          const __m512 b0 = _mm512_loadu_ps(B + k * N + j);
          for (int i = 0; i < 8; ++i) c[i] = _mm512_fmadd_ps(_mm512_set1_ps(a[i * lda + k]), b0, c[i]);
        }
        for (int i = 0; i < 8; ++i) _mm512_storeu_ps(C + (r + i) * N + j, c[i]);
      }
    }
  }
  for (; r < M; ++r)
    for (int64_t j = 0; j < N; j += 16) {
      __m512 c = _mm512_setzero_ps();
      for (int64_t k = 0; k < Kd; ++k)
        c = _mm512_fmadd_ps(_mm512_set1_ps(A[r * lda + k]), _mm512_loadu_ps(B + k * N + j), c);
      _mm512_storeu_ps(C + r * N + j, c);
    }
}

// D (P x N) += G^T H for G (M x P) and H (M x N), row-major; P a multiple of 8, N of 16. Rows are
// taken in chunks that stay in the core's cache while every tile of D passes over them.
inline void mm_acc_t(int64_t M, int64_t P, int64_t N, const float* G, const float* H, float* D) {
  constexpr int64_t chunk = 256;
  for (int64_t m0 = 0; m0 < M; m0 += chunk) {
    const int64_t m1 = std::min(M, m0 + chunk);
    for (int64_t i0 = 0; i0 < P; i0 += 8)
      for (int64_t j = 0; j < N; j += 16) {
        __m512 c[8];
        for (int i = 0; i < 8; ++i) c[i] = _mm512_loadu_ps(D + (i0 + i) * N + j);
        for (int64_t r = m0; r < m1; ++r) {
          const __m512 h = _mm512_loadu_ps(H + r * N + j);
          const float* g = G + r * P + i0;
          for (int i = 0; i < 8; ++i) c[i] = _mm512_fmadd_ps(_mm512_set1_ps(g[i]), h, c[i]);
        }
        for (int i = 0; i < 8; ++i) _mm512_storeu_ps(D + (i0 + i) * N + j, c[i]);
      }
  }
}
#else
constexpr bool kFastProducts = false;
inline void mm_rows(int64_t, int64_t, int64_t, const float*, int64_t, const float*, float*) {}
inline void mm_acc_t(int64_t, int64_t, int64_t, const float*, const float*, float*) {}
#endif

// Z (M x wo) = H (M x wi) W^T for W (wo x wi); Wt is W transposed (wi x wo).
template <typename T>
void layer_forward(int64_t M, int64_t wi, int64_t wo, const T* H, const T* W, const T* Wt, T* Z) {
  if constexpr (std::is_same_v<T, float>) {
    if (kFastProducts && wo % 16 == 0) return mm_rows(M, wo, wi, H, wi, Wt, Z);
  }
  gemm(TransposeType::Transpose, TransposeType::NoTranspose, wo, M, wi, T(1), W, wi, H, wi, T(0), Z, wo);
}

// dH (M x wi) = G (M x wo) W for W (wo x wi).
template <typename T>
void layer_input_gradient(int64_t M, int64_t wi, int64_t wo, const T* G, const T* W, T* dH) {
  if constexpr (std::is_same_v<T, float>) {
    if (kFastProducts && wi % 16 == 0) return mm_rows(M, wi, wo, G, wo, W, dH);
  }
  gemm(TransposeType::NoTranspose, TransposeType::NoTranspose, wi, M, wo, T(1), W, wi, G, wo, T(0), dH, wi);
}

// dW (wo x wi) += G^T H for G (M x wo), H (M x wi).
template <typename T>
void layer_weight_gradient(int64_t M, int64_t wi, int64_t wo, const T* G, const T* H, T* dW) {
  if constexpr (std::is_same_v<T, float>) {
    if (kFastProducts && wo % 8 == 0 && wi % 16 == 0) return mm_acc_t(M, wo, wi, G, H, dW);
  }
  gemm(TransposeType::NoTranspose, TransposeType::Transpose, wi, wo, M, T(1), H, wi, G, wo, T(1), dW, wi);
}

// The activation's chain rules run over chunks of V consecutive values, every slot of a chunk
// before the next chunk: a chunk's cache lines are loaded once for all slots (looping over whole
// slots instead re-reads tanh's value from outside the core's cache once per slot).
constexpr int64_t V = 16;

// h = tanh-jet(z): K slots of S = rb * w values each.
template <typename T>
void act_forward(const T* z, T* h, int64_t S, const Plan& p) {
  const int64_t n1 = p.n1(), n2 = p.n2();
  for (int64_t e0 = 0; e0 < S; e0 += V) {
    const int64_t len = std::min(V, S - e0);
    T s1[V], s2[V];
    T* h0 = h + e0;
    const T* z0 = z + e0;
#pragma omp simd
    for (int64_t j = 0; j < len; ++j) {
      const T s = tanh_(z0[j]);
      h0[j] = s;
      s1[j] = T(1) - s * s;
      s2[j] = T(-2) * s * s1[j];
    }
    for (int64_t i = 0; i < n1; ++i) {
      const T* zi = z + (1 + i) * S + e0;
      T* hi = h + (1 + i) * S + e0;
#pragma omp simd
      for (int64_t j = 0; j < len; ++j) hi[j] = s1[j] * zi[j];
    }
    for (int64_t q = 0; q < n2; ++q) {
      const T* za = z + (1 + p.pa[q]) * S + e0;
      const T* zb = z + (1 + p.pb[q]) * S + e0;
      const T* zq = z + (1 + n1 + q) * S + e0;
      T* hq = h + (1 + n1 + q) * S + e0;
#pragma omp simd
      for (int64_t j = 0; j < len; ++j) hq[j] = s2[j] * za[j] * zb[j] + s1[j] * zq[j];
    }
  }
}

// gz = gradient of the loss by the pre-activation jet z, from gh (by the activation jet h); h0 is
// tanh(z_value).
template <typename T>
void act_backward(const T* gh, const T* z, const T* h0, T* gz, int64_t S, const Plan& p) {
  const int64_t n1 = p.n1(), n2 = p.n2(), K = p.K();
  for (int64_t e0 = 0; e0 < S; e0 += V) {
    const int64_t len = std::min(V, S - e0);
    T s1[V], s2[V], s3[V], g0[V];
#pragma omp simd
    for (int64_t j = 0; j < len; ++j) {
      const T s = h0[e0 + j];
      s1[j] = T(1) - s * s;
      s2[j] = T(-2) * s * s1[j];
      s3[j] = T(-2) * (s1[j] * s1[j] + s * s2[j]);
      g0[j] = gh[e0 + j] * s1[j];
    }
    for (int64_t k = 1; k < K; ++k) {
      const T* g = gh + k * S + e0;
      T* o = gz + k * S + e0;
#pragma omp simd
      for (int64_t j = 0; j < len; ++j) o[j] = g[j] * s1[j];
    }
    for (int64_t i = 0; i < n1; ++i) {
      const T* g = gh + (1 + i) * S + e0;
      const T* zi = z + (1 + i) * S + e0;
#pragma omp simd
      for (int64_t j = 0; j < len; ++j) g0[j] += g[j] * s2[j] * zi[j];
    }
    for (int64_t q = 0; q < n2; ++q) {
      const T* g = gh + (1 + n1 + q) * S + e0;
      const T* za = z + (1 + p.pa[q]) * S + e0;
      const T* zb = z + (1 + p.pb[q]) * S + e0;
      const T* zq = z + (1 + n1 + q) * S + e0;
      T* ga = gz + (1 + p.pa[q]) * S + e0;
      T* gb = gz + (1 + p.pb[q]) * S + e0;
#pragma omp simd
      for (int64_t j = 0; j < len; ++j) {
        g0[j] += g[j] * (s3[j] * za[j] * zb[j] + s2[j] * zq[j]);
        ga[j] += g[j] * s2[j] * zb[j];
        gb[j] += g[j] * s2[j] * za[j];
      }
    }
    T* o0 = gz + e0;
#pragma omp simd
    for (int64_t j = 0; j < len; ++j) o0[j] = g0[j];
  }
}

// A buffer of at least `size` values owned by the calling thread, kept from call to call: the
// scratch space of a block is not allocated (and page-faulted in) afresh every training step.
template <typename T>
T* thread_buffer(int which, int64_t size) {
  static thread_local std::vector<T> buffers[5];
  std::vector<T>& b = buffers[which];
  if (static_cast<int64_t>(b.size()) < size) b.resize(size);
  return b.data();
}

// f(block) for every block, blocks handed out one at a time to the torch threads (so a thread
// that runs slower, e.g. on a busy core, takes fewer); BLAS inside runs single-threaded.
template <typename F>
void for_blocks(int64_t nblocks, const F& f) {
  const int64_t threads = std::min<int64_t>(at::get_num_threads(), nblocks);
  if (threads <= 1) {
    for (int64_t blk = 0; blk < nblocks; ++blk) f(blk);
    return;
  }
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
  for (int64_t blk = 0; blk < nblocks; ++blk) f(blk);
}

struct Net {
  int64_t d = 0, m = 0, L = 0, n = 0;
  std::vector<int64_t> in, out;  // per linear layer
  int64_t wmax = 0;
};

Net describe(const at::Tensor& x, const std::vector<at::Tensor>& weights, int64_t block) {
  TORCH_CHECK(x.dim() == 2 && x.is_contiguous(), "points must be a contiguous (N, d) tensor");
  TORCH_CHECK(weights.size() >= 2, "the network needs at least one hidden layer, got ", weights.size(), " layers");
  TORCH_CHECK(block >= 1, "block must be positive, got ", block);
  int64_t previous = x.size(1);
  for (const auto& w : weights) {
    TORCH_CHECK(w.dim() == 2 && w.is_contiguous() && w.scalar_type() == x.scalar_type(),
                "weights must be contiguous 2-d tensors of the points' dtype");
    TORCH_CHECK(w.size(1) == previous, "a layer expects ", w.size(1), " inputs, the previous one gives ", previous);
    previous = w.size(0);
  }
  Net net;
  net.n = x.size(0);
  net.d = x.size(1);
  net.L = static_cast<int64_t>(weights.size());
  for (const auto& w : weights) {
    net.out.push_back(w.size(0));
    net.in.push_back(w.size(1));
    net.wmax = std::max(net.wmax, w.size(0));
  }
  net.m = net.out.back();
  return net;
}

// The hidden layers' jets, Z_0, H_0, Z_1, H_1, ..., as consecutive parts of one workspace.
template <typename T>
std::vector<T*> layout(const at::Tensor& workspace, const Net& net, int64_t K) {
  std::vector<T*> parts;
  T* base = workspace.data_ptr<T>();
  int64_t used = 0;
  for (int64_t l = 0; l + 1 < net.L; ++l)
    for (int part = 0; part < 2; ++part) {
      parts.push_back(base + used);
      used += net.n * K * net.out[l];
    }
  TORCH_CHECK(workspace.numel() >= used, "workspace holds ", workspace.numel(), " values, ", used, " needed");
  return parts;
}

template <typename T>
at::Tensor forward_impl(const at::Tensor& x, const at::Tensor& center, const at::Tensor& half,
                        const std::vector<at::Tensor>& W, const std::vector<at::Tensor>& b, const Plan& p,
                        int64_t block, const at::Tensor& workspace) {
  const Net net = describe(x, W, block);
  const int64_t K = p.K(), n = net.n, d = net.d, m = net.m, L = net.L;
  const int64_t nblocks = (n + block - 1) / block;
  at::Tensor out = at::empty({K, n, m}, x.options());
  const std::vector<T*> saved = layout<T>(workspace, net, K);
  const T* xp = x.data_ptr<T>();
  const T* cp = center.data_ptr<T>();
  const T* sp = half.data_ptr<T>();
  T* op = out.data_ptr<T>();

  std::vector<std::vector<T>> wt(L);  // W_l transposed, (in, out)
  for (int64_t l = 1; l < L; ++l) {
    const T* w = W[l].data_ptr<T>();
    wt[l].resize(net.in[l] * net.out[l]);
    for (int64_t o = 0; o < net.out[l]; ++o)
      for (int64_t i = 0; i < net.in[l]; ++i) wt[l][i * net.out[l] + o] = w[o * net.in[l] + i];
  }
  for_blocks(nblocks, [&](int64_t blk) {
    T* y = thread_buffer<T>(0, K * block * m);
    const int64_t r0 = blk * block, rb = std::min(block, n - r0);
    // First layer: inputs mapped to [-1, 1]; their first derivatives are the constant rows
    // W[:, i] / half_i, their second derivatives zero.
    {
      const int64_t w = net.out[0];
      const T* W1 = W[0].data_ptr<T>();
      const T* b1 = b[0].data_ptr<T>();
      T* Z = saved[0] + r0 * K * w;
      const int64_t S = rb * w;
      for (int64_t r = 0; r < rb; ++r) {
        T* zr = Z + r * w;
        for (int64_t o = 0; o < w; ++o) zr[o] = b1[o];
        for (int64_t j = 0; j < d; ++j) {
          const T hj = (xp[(r0 + r) * d + j] - cp[j]) / sp[j];
#pragma omp simd
          for (int64_t o = 0; o < w; ++o) zr[o] += W1[o * d + j] * hj;
        }
      }
      for (int64_t i = 0; i < p.n1(); ++i) {
        const int64_t j = p.first[i];
        T* zi = Z + (1 + i) * S;
        for (int64_t r = 0; r < rb; ++r)
          for (int64_t o = 0; o < w; ++o) zi[r * w + o] = W1[o * d + j] / sp[j];
      }
      std::fill(Z + (1 + p.n1()) * S, Z + K * S, T(0));
      act_forward(Z, saved[1] + r0 * K * w, S, p);
    }
    // Hidden layers and the output layer: one product for all K slots of the block.
    for (int64_t l = 1; l < L; ++l) {
      const int64_t wi = net.in[l], wo = net.out[l];
      const T* H = saved[2 * (l - 1) + 1] + r0 * K * wi;
      const bool last = l + 1 == L;
      T* Z = last ? y : saved[2 * l] + r0 * K * wo;
      layer_forward(K * rb, wi, wo, H, W[l].data_ptr<T>(), wt[l].data(), Z);
      const T* bl = b[l].data_ptr<T>();
      for (int64_t r = 0; r < rb; ++r)
#pragma omp simd
        for (int64_t o = 0; o < wo; ++o) Z[r * wo + o] += bl[o];
      if (!last) act_forward(Z, saved[2 * l + 1] + r0 * K * wo, rb * wo, p);
    }
    for (int64_t k = 0; k < K; ++k)
      for (int64_t r = 0; r < rb; ++r)
        for (int64_t o = 0; o < m; ++o) op[(k * n + r0 + r) * m + o] = y[(k * rb + r) * m + o];
  });
  return out;
}

template <typename T>
std::vector<at::Tensor> backward_impl(const at::Tensor& gout, const at::Tensor& x, const at::Tensor& center,
                                      const at::Tensor& half, const std::vector<at::Tensor>& W, const Plan& p,
                                      int64_t block, const at::Tensor& workspace) {
  const Net net = describe(x, W, block);
  const int64_t K = p.K(), n = net.n, d = net.d, m = net.m, L = net.L;
  const std::vector<T*> saved = layout<T>(workspace, net, K);
  const int64_t nblocks = (n + block - 1) / block;
  // Offsets of each layer's weight and bias gradient in one flat accumulator per thread.
  std::vector<int64_t> woff(L), boff(L);
  int64_t total = 0;
  for (int64_t l = 0; l < L; ++l) {
    woff[l] = total;
    total += net.out[l] * net.in[l];
    boff[l] = total;
    total += net.out[l];
  }
  // One accumulator per block, summed in block order at the end: the gradients do not depend on
  // which thread ran which block.
  std::vector<T> acc(nblocks * total, T(0));
  const T* gp = gout.data_ptr<T>();
  const T* xp = x.data_ptr<T>();
  const T* cp = center.data_ptr<T>();
  const T* sp = half.data_ptr<T>();

  for_blocks(nblocks, [&](int64_t blk) {
    T* a = acc.data() + blk * total;
    T* gy = thread_buffer<T>(1, K * block * m);
    T* gh = thread_buffer<T>(2, K * block * net.wmax);
    T* gz = thread_buffer<T>(3, K * block * net.wmax);
    T* dWt = thread_buffer<T>(4, d * net.out[0]);
    const int64_t r0 = blk * block, rb = std::min(block, n - r0);
    for (int64_t k = 0; k < K; ++k)
      for (int64_t r = 0; r < rb; ++r)
        for (int64_t o = 0; o < m; ++o) gy[(k * rb + r) * m + o] = gp[(k * n + r0 + r) * m + o];
    const T* g = gy;  // gradient by the current layer's output jet, (K rb, w_out)
    for (int64_t l = L - 1; l >= 1; --l) {
      const int64_t wi = net.in[l], wo = net.out[l];
      const T* H = saved[2 * (l - 1) + 1] + r0 * K * wi;
      // dW_l += g^T H (all slots), db_l += sum of the value slot's rows, dH = g W_l.
      layer_weight_gradient(K * rb, wi, wo, g, H, a + woff[l]);
      T* db = a + boff[l];
      for (int64_t r = 0; r < rb; ++r)
#pragma omp simd
        for (int64_t o = 0; o < wo; ++o) db[o] += g[r * wo + o];
      layer_input_gradient(K * rb, wi, wo, g, W[l].data_ptr<T>(), gh);
      act_backward(gh, saved[2 * (l - 1)] + r0 * K * wi, H, gz, rb * wi, p);
      g = gz;
    }
    // First layer: z_value = W1 h_in + b1, z_i = W1[:, first_i] / half (same at every row).
    // Accumulated input by input (contiguous over outputs), then added to the (w, d) gradient.
    const int64_t w = net.out[0], S = rb * w;
    std::fill(dWt, dWt + d * w, T(0));
    T* db = a + boff[0];
    for (int64_t r = 0; r < rb; ++r) {
      const T* gr = g + r * w;
      for (int64_t j = 0; j < d; ++j) {
        const T hj = (xp[(r0 + r) * d + j] - cp[j]) / sp[j];
        T* col = dWt + j * w;
#pragma omp simd
        for (int64_t o = 0; o < w; ++o) col[o] += gr[o] * hj;
      }
#pragma omp simd
      for (int64_t o = 0; o < w; ++o) db[o] += gr[o];
    }
    for (int64_t i = 0; i < p.n1(); ++i) {
      const int64_t j = p.first[i];
      const T* gi = g + (1 + i) * S;
      T* col = dWt + j * w;
      const T inv = T(1) / sp[j];
      for (int64_t r = 0; r < rb; ++r)
#pragma omp simd
        for (int64_t o = 0; o < w; ++o) col[o] += gi[r * w + o] * inv;
    }
    T* dW = a + woff[0];
    for (int64_t o = 0; o < w; ++o)
      for (int64_t j = 0; j < d; ++j) dW[o * d + j] += dWt[j * w + o];
  });
  std::vector<at::Tensor> grads;
  auto opts = x.options();
  for (int64_t l = 0; l < L; ++l) {
    at::Tensor gw = at::zeros({net.out[l], net.in[l]}, opts), gb = at::zeros({net.out[l]}, opts);
    T* pw = gw.data_ptr<T>();
    T* pb = gb.data_ptr<T>();
    for (int64_t blk = 0; blk < nblocks; ++blk) {
      const T* a = acc.data() + blk * total;
      for (int64_t e = 0; e < net.out[l] * net.in[l]; ++e) pw[e] += a[woff[l] + e];
      for (int64_t e = 0; e < net.out[l]; ++e) pb[e] += a[boff[l] + e];
    }
    grads.push_back(gw);
    grads.push_back(gb);
  }
  return grads;
}

Plan make_plan(const at::Tensor& x, const std::vector<int64_t>& first, const std::vector<int64_t>& pa,
               const std::vector<int64_t>& pb) {
  TORCH_CHECK(pa.size() == pb.size(), "pair index lists differ in length");
  for (int64_t i : first) TORCH_CHECK(i >= 0 && i < x.size(1), "derivative by input ", i, " of ", x.size(1));
  for (size_t q = 0; q < pa.size(); ++q)
    TORCH_CHECK(pa[q] >= 0 && pb[q] >= 0 && pa[q] < static_cast<int64_t>(first.size()) &&
                    pb[q] < static_cast<int64_t>(first.size()),
                "second-order pair ", q, " refers to a first derivative that is not computed");
  return Plan{first, pa, pb};
}

at::Tensor forward(const at::Tensor& x, const at::Tensor& center, const at::Tensor& half,
                   const std::vector<at::Tensor>& W, const std::vector<at::Tensor>& b,
                   const std::vector<int64_t>& first, const std::vector<int64_t>& pa, const std::vector<int64_t>& pb,
                   int64_t block, const at::Tensor& workspace) {
  const Plan p = make_plan(x, first, pa, pb);
  TORCH_CHECK(b.size() == W.size(), W.size(), " weights but ", b.size(), " biases");
  for (size_t l = 0; l < W.size(); ++l)
    TORCH_CHECK(b[l].is_contiguous() && b[l].numel() == W[l].size(0) && b[l].scalar_type() == x.scalar_type(),
                "bias ", l, " must be a contiguous vector of ", W[l].size(0), " values of the points' dtype");
  for (const auto* t : {&center, &half})
    TORCH_CHECK(t->is_contiguous() && t->numel() == x.size(1) && t->scalar_type() == x.scalar_type(),
                "the input map's center and half-width must be contiguous vectors of ", x.size(1), " values");
  at::Tensor out;
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "jet_mlp_forward",
                             [&] { out = forward_impl<scalar_t>(x, center, half, W, b, p, block, workspace); });
  return out;
}

std::vector<at::Tensor> backward(const at::Tensor& gout, const at::Tensor& x, const at::Tensor& center,
                                 const at::Tensor& half, const std::vector<at::Tensor>& W,
                                 const std::vector<int64_t>& first, const std::vector<int64_t>& pa,
                                 const std::vector<int64_t>& pb, int64_t block, const at::Tensor& workspace) {
  const Plan p = make_plan(x, first, pa, pb);
  TORCH_CHECK(gout.is_contiguous() && gout.dim() == 3 && gout.size(0) == p.K() && gout.size(1) == x.size(0) &&
                  gout.size(2) == W.back().size(0) && gout.scalar_type() == x.scalar_type(),
              "the output jets' gradient must be a contiguous (K, N, m) tensor of the points' dtype");
  std::vector<at::Tensor> out;
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "jet_mlp_backward",
                             [&] { out = backward_impl<scalar_t>(gout, x, center, half, W, p, block, workspace); });
  return out;
}

}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("forward", &forward, "jets of a tanh MLP, (K, N, m); the hidden layers' jets go to the workspace");
  m.def("backward", &backward, "weight and bias gradients from the gradient of the output jets");
}
