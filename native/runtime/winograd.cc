// Winograd F(4x4, 3x3) convolution, NCHW in and out. The output is cut into 4x4 tiles (TP x TQ
// per image, partial at the bottom/right edges: their junk rows and columns are never written
// out); tile (tp, tq) reads the 6x6 input window at rows 4tp - pad_h, columns 4tq - pad_w.
//
// The tiles are processed in blocks (whole images when images are small, runs of tile rows when
// they are large) sized so that a block's transformed input V and products M stay in L2:
//   1. pack:   the block's input rows -> channel blocks of L lanes, zero-padded  (xb: CB x rows x Wp x L)
//   2. input:  V[xi](tiles, Cs) = B^T d B                                      (36 x tiles x Cs)
//   3. GEMMs:  M[xi](tiles, Ks) = V[xi](tiles, Cs) U[xi](Cs, Ks), U = G g G^T   (36 small GEMMs,
//              the level's own kernel: C is often 16, too short for the 12 x 32 tile of gemm.cc)
//   4. output: A^T M A + bias -> channel blocks (yb), then back to NCHW (unpack)
// Cs, Ks are C, K rounded up to L (the extra lanes are zeros in U and in V).
// Threads take whole blocks (a fixed list that depends on the shape only), so every output value
// is computed the same way for any thread count. Nothing is allocated per call: the buffers are
// workspace slots, reused from call to call. Backward-data is the same pipeline on dy with
// the flipped, channel-swapped kernel (its U is built directly from w), accumulating into dx.
#include "winograd.h"

#include <algorithm>

#include "../kernels/winograd.h"
#include "parallel.h"

namespace kiln {
namespace {

// Workspace slots (conv.cc uses 4 * kMaxThreads + 8 up to about +1100).
constexpr size_t kSlot = 8192;
constexpr size_t kSlotU = kSlot, kSlotBias = kSlot + 1, kSlotTask = kSlot + 8;  // + 4 per task
// A block's V and M (36 x tiles x (Cs + Ks) floats) stay under this many bytes: half the 1 MiB L2,
// the rest for the packed input/output rows, U and the streams of x and y.
constexpr size_t kBlockBytes = size_t{512} << 10;
constexpr size_t kMinBlockTiles = 16;
// The GEMM per transform point has inner dimension C and C*K*36 useful products per tile; with
// few channels the transforms per tile cost more than the multiplications they save. Measured
// at 128 x (C, 32x32, K), one thread, against the direct path: forward C=K=8 1.9 -> 2.7 ms
// (slower), C=8 K=16 4.1 -> 3.1, C=K=12 4.5 -> 3.0; the weight gradient pays already at C=K=8
// (5.2 -> 2.6 ms). C=3 (ResNet's first layer) or K=4 gain nothing: every transform is as wide as
// 8 or 16 channels.
constexpr size_t kMinChannels = 8;
constexpr size_t kMinChannelProduct = 128;  // forward and backward-data
// With many channels the transformed kernel (36 x Cs x Ks, 4x the 3x3 kernel) is streamed once
// per block from L3 or memory, and a chunk's dU partial is as large. Measured on ResNet-18's
// stages at batch 16, two threads, against the direct path: 64 and 128 channels 3x faster,
// 256 channels forward 42 -> 23 ms but weight gradient 44 -> 44 ms (9 MiB dU partials), 512
// channels (37 MiB) forward 55 -> 67 ms, weight gradient 42 -> 53 ms: slower.
constexpr size_t kMaxKernelBytes = size_t{16} << 20;      // forward and backward-data
constexpr size_t kMaxKernelBytesGrad = size_t{4} << 20;   // weight gradient

size_t ceil_div(size_t a, size_t b) { return (a + b - 1) / b; }

struct Block {
  size_t n0, n1, tp0, tp1;  // images [n0, n1), tile rows [tp0, tp1) of each
};

struct Plan {
  size_t L, TP, TQ, Wp, Qp, CB, KB, Cs, Ks;
  size_t imgs, rows;     // per block: images, tile rows (of each image)
  size_t tiles;          // per block, at most
  size_t v_xi, m_xi;     // transform-point strides of V and M
  size_t xb_floats, yb_floats;
  size_t row_blocks, blocks;  // blocks per image group; in all
  Block block(size_t i) const {  // images in groups of imgs, each cut into runs of `rows` tile rows
    const size_t n0 = i / row_blocks * imgs, tp0 = i % row_blocks * rows;
    return {n0, std::min(N, n0 + imgs), tp0, std::min(TP, tp0 + rows)};
  }
  size_t N;
};

Plan make_plan(const Conv2dDims& d, size_t L, size_t block_bytes = kBlockBytes) {
  Plan p;
  p.L = L;
  p.TP = ceil_div(d.P, 4), p.TQ = ceil_div(d.Q, 4);
  p.Wp = 4 * p.TQ + 2, p.Qp = 4 * p.TQ;
  p.CB = ceil_div(d.C, L), p.KB = ceil_div(d.K, L);
  p.Cs = p.CB * L, p.Ks = p.KB * L;
  const size_t target = std::max(kMinBlockTiles, block_bytes / (36 * sizeof(float) * (p.Cs + p.Ks)));
  const size_t per_image = p.TP * p.TQ;
  if (per_image >= target) {
    p.imgs = 1;
    p.rows = std::min(p.TP, std::max<size_t>(1, target / p.TQ));
  } else {
    p.imgs = std::min(d.N, target / per_image);
    p.rows = p.TP;
  }
  p.tiles = p.imgs * p.rows * p.TQ;
  // +16 floats: the 36 transform points' rows never sit 4 KiB apart (one L1 set)
  p.v_xi = p.tiles * p.Cs + 16, p.m_xi = p.tiles * p.Ks + 16;
  p.xb_floats = p.imgs * p.CB * (4 * p.rows + 2) * p.Wp * L;
  p.yb_floats = p.imgs * p.KB * 4 * p.rows * p.Qp * L;
  p.N = d.N;
  p.row_blocks = ceil_div(p.TP, p.rows);
  p.blocks = ceil_div(d.N, p.imgs) * p.row_blocks;
  return p;
}

// Steps 1 and 2 for one block: x's rows packed into xb, then v[xi](tiles, Cs) = B^T d B, tiles in
// (image, tile row, tile column) order. Returns the block's tile count.
size_t input_block(const WinogradKernels& wk, float* v, float* xb, const float* x, const Conv2dDims& d, const Plan& p,
                   const Block& blk) {
  const size_t L = p.L, in_img = d.C * d.H * d.W, in_rows = 4 * p.rows + 2;
  const size_t imgs = blk.n1 - blk.n0, trows = blk.tp1 - blk.tp0;
  for (size_t i = 0; i < imgs; ++i)
    for (size_t cb = 0; cb < p.CB; ++cb) {
      const size_t c0 = cb * L;
      wk.pack(xb + (i * p.CB + cb) * in_rows * p.Wp * L, x + (blk.n0 + i) * in_img + c0 * d.H * d.W, d.H * d.W,
              std::min(L, d.C - c0), d.H, d.W, static_cast<long>(4 * blk.tp0) - static_cast<long>(d.pad_h),
              4 * trows + 2, -static_cast<long>(d.pad_w), p.Wp);
    }
  size_t t0 = 0;
  for (size_t i = 0; i < imgs; ++i)
    for (size_t tp = 0; tp < trows; ++tp, t0 += p.TQ)
      for (size_t cb = 0; cb < p.CB; ++cb)
        wk.input(v + t0 * p.Cs + cb * L, p.v_xi, p.Cs, xb + ((i * p.CB + cb) * in_rows + 4 * tp) * p.Wp * L, p.Wp,
                 p.TQ);
  return t0;
}

// y (=, or += when add) conv(x, w) + b through the tiles; u:(36, Cs, Ks) the transformed kernel,
// bias:(Ks) or nullptr.
bool run(ThreadPool& pool, Workspace& ws, const WinogradKernels& wk, float* y, const float* x, const float* u,
         const float* bias, const Conv2dDims& d, const Plan& p, bool add) {
  const size_t L = p.L, out_img = d.K * d.P * d.Q;
  const size_t threads = static_cast<size_t>(pool.size()), tasks = std::min(threads, p.blocks);
  struct Buffers {
    float *xm, *vy;  // xb, then M; V, then yb
  };
  Buffers buf[ThreadPool::kMaxThreads];
  for (size_t t = 0; t < tasks; ++t) {
    const size_t s = kSlotTask + 4 * t;
    if (!(buf[t].xm = ws.floats(s, std::max(p.xb_floats, 36 * p.m_xi)))) return false;
    if (!(buf[t].vy = ws.floats(s + 1, std::max(p.yb_floats, 36 * p.v_xi)))) return false;
  }
  const size_t out_rows = 4 * p.rows;
  auto one_block = [&](const Block& blk, const Buffers& b) {
    const size_t imgs = blk.n1 - blk.n0, trows = blk.tp1 - blk.tp0;
    const size_t tiles = input_block(wk, b.vy, b.xm, x, d, p, blk);
    // 3. one GEMM per transform point (M overwrites the packed input)
    for (size_t xi = 0; xi < 36; ++xi)
      wk.gemm(b.xm + xi * p.m_xi, b.vy + xi * p.v_xi, u + xi * p.Cs * p.Ks, tiles, p.Cs, p.Ks);
    // 4. output transform (yb overwrites V), then NCHW
    size_t t = 0;
    for (size_t i = 0; i < imgs; ++i)
      for (size_t tp = 0; tp < trows; ++tp, t += p.TQ)
        for (size_t kb = 0; kb < p.KB; ++kb)
          wk.output(b.vy + ((i * p.KB + kb) * out_rows + 4 * tp) * p.Qp * L, p.Qp, b.xm + t * p.Ks + kb * L, p.m_xi,
                    p.Ks, p.TQ, bias ? bias + kb * L : nullptr);
    const size_t p0 = 4 * blk.tp0, rows = std::min(d.P, 4 * blk.tp1) - p0;
    for (size_t i = 0; i < imgs; ++i)
      for (size_t kb = 0; kb < p.KB; ++kb) {
        const size_t k0 = kb * L;
        wk.unpack(y + (blk.n0 + i) * out_img + (k0 * d.P + p0) * d.Q, d.P * d.Q, std::min(L, d.K - k0), rows, d.Q,
                  b.vy + (i * p.KB + kb) * out_rows * p.Qp * L, p.Qp, add);
      }
  };
  // blocks write disjoint parts of y: claimed one at a time (parallel.h)
  parallel_claim(pool, p.blocks, [&](size_t t, size_t bi) { one_block(p.block(bi), buf[t]); });
  return true;
}

// u:(36, Cs, Ks) from w, zero past the real channels; split over output channels of w.
bool transform_weights(ThreadPool& pool, Workspace& ws, float** out, const float* w, const Conv2dDims& d,
                       const Plan& p, bool transposed) {
  float* u = ws.floats(kSlotU, 36 * p.Cs * p.Ks);
  if (!u) return false;
  // the original kernel's K and C (the transposed convolution swaps them)
  const size_t K = transposed ? d.C : d.K, C = transposed ? d.K : d.C;
  if (p.Cs != d.C || p.Ks != d.K) std::fill(u, u + 36 * p.Cs * p.Ks, 0.0f);
  parallel_range(pool, K, std::max<size_t>(1, 4096 / std::max<size_t>(1, C)), 1, [&](size_t k0, size_t k1) {
    ref::winograd_weight_f32(u, p.Cs * p.Ks, p.Ks, w, K, C, transposed, k0, k1);
  });
  *out = u;
  return true;
}

// The weight gradient's chunks: blocks are summed into a chunk's partial dU on one thread, the
// partials added in chunk order (in double); the chunks depend on the shape only. Half as many
// for a dU up to kFewChunksDu: each chunk writes its partial and the end sums them all, and
// 8 instead of 16 chunks ran ResNet-20's 32 -> 32 1.19-1.21x (same-process A/B, 1 and 2
// threads), 16 -> 16 0.98-1.06x, ResNet-18-at-96's 64 -> 64 at 24x24 1.11-1.13x; with a larger
// dU (128 channels at 12x12: 2.4 MiB) the longer chunks divided less evenly, 0.85-0.90x.
constexpr size_t kWeightChunks = 16;
constexpr size_t kFewChunks = 8;
constexpr size_t kFewChunksDu = size_t{1} << 20;
constexpr size_t kWeightBlockMax = size_t{2} << 20;
// Per-chunk dU partials up to this many bytes in all (ResNet-20's 16-16: 16 x 36 KiB, 32-32:
// 16 x 144 KiB). Above it (64-64: 16 x 576 KiB) they would cost a pass over that much memory
// more than one L2-resident buffer per thread reused wave after wave.
constexpr size_t kChunkPartialBytes = size_t{4} << 20;
constexpr size_t kSlotChunk = kSlotTask + 4 * ThreadPool::kMaxThreads;  // + one per chunk

}  // namespace

bool winograd_applies(const Conv2dDims& d, const WinogradKernels& wk, bool weight_gradient) {
  if (!wk.lanes || d.R != 3 || d.S != 3 || d.stride_h != 1 || d.stride_w != 1 || d.dil_h != 1 || d.dil_w != 1)
    return false;
  if (d.pad_h > 2 || d.pad_w > 2) return false;
  // bottom/right padding as P, Q imply: P = H + pad_h + bottom - 2
  if (d.P + 2 < d.H + d.pad_h || d.P + 2 - d.H - d.pad_h > 2) return false;
  if (d.Q + 2 < d.W + d.pad_w || d.Q + 2 - d.W - d.pad_w > 2) return false;
  if (d.C < kMinChannels || d.K < kMinChannels || (!weight_gradient && d.C * d.K < kMinChannelProduct)) return false;
  const size_t u_bytes = 36 * sizeof(float) * ceil_div(d.C, wk.lanes) * ceil_div(d.K, wk.lanes) * wk.lanes * wk.lanes;
  return u_bytes <= (weight_gradient ? kMaxKernelBytesGrad : kMaxKernelBytes);
}

bool winograd_forward(ThreadPool& pool, Workspace& ws, const WinogradKernels& wk, float* y, const float* x,
                      const float* w, const float* b, const Conv2dDims& d) {
  if (d.N == 0) return true;
  const Plan p = make_plan(d, wk.lanes);
  float* u = nullptr;
  if (!transform_weights(pool, ws, &u, w, d, p, false)) return false;
  float* bias = nullptr;
  if (b) {
    if (!(bias = ws.floats(kSlotBias, p.Ks))) return false;
    std::fill(bias, bias + p.Ks, 0.0f);
    std::copy(b, b + d.K, bias);
  }
  return run(pool, ws, wk, y, x, u, bias, d, p, false);
}

bool winograd_backward_data(ThreadPool& pool, Workspace& ws, const WinogradKernels& wk,
                            float* dx, const float* dy, const float* w, const Conv2dDims& d, bool overwrite) {
  if (d.N == 0) return true;
  // dx += conv(dy, w flipped with its channel axes swapped), padded by 2 - pad on each side
  Conv2dDims t = d;
  t.C = d.K, t.K = d.C;
  t.H = d.P, t.W = d.Q;
  t.P = d.H, t.Q = d.W;
  t.pad_h = 2 - d.pad_h, t.pad_w = 2 - d.pad_w;
  const Plan p = make_plan(t, wk.lanes);
  float* u = nullptr;
  if (!transform_weights(pool, ws, &u, w, t, p, true)) return false;
  return run(pool, ws, wk, dx, dy, u, nullptr, t, p, !overwrite);  // the tiles cover all of dx
}

bool winograd_backward_weight(ThreadPool& pool, Workspace& ws, const WinogradKernels& wk,
                              double (*sum)(const float*, size_t), float* dw, float* db, const float* x,
                              const float* dy, const Conv2dDims& d) {
  if (d.N == 0) return true;
  // Each block adds into all of a chunk's dU (36 x Ks x Cs), read and written once per block:
  // blocks of about 4x its size amortize that (ResNet-20, one thread: 64 channels 2.6 -> 2.2 ms
  // with 2 MiB blocks instead of 512 KiB; 16 and 32 channels: no difference within the noise).
  const size_t lanes = wk.lanes;
  const size_t du_bytes = 36 * sizeof(float) * ceil_div(d.K, lanes) * ceil_div(d.C, lanes) * lanes * lanes;
  const Plan p = make_plan(d, wk.lanes, std::min(kWeightBlockMax, std::max(kBlockBytes, 4 * du_bytes)));
  const size_t L = p.L, out_img = d.K * d.P * d.Q, du_len = 36 * p.Ks * p.Cs, out_rows = 4 * p.rows;
  const size_t chunks = std::min(p.blocks, du_bytes <= kFewChunksDu ? kFewChunks : kWeightChunks);
  const size_t tasks = std::min(static_cast<size_t>(pool.size()), chunks);
  const size_t dyb_floats = p.imgs * p.KB * out_rows * p.Qp * L;
  struct Buffers {
    float *packed, *v, *m, *du;  // x's then dy's rows; V; Y = A dy A^T; the chunk's dU (waves only)
  };
  // Each chunk's dU in its own buffer when they fit in kChunkPartialBytes: then the chunks are
  // claimed one at a time (parallel.h: a thread slowed by other processes takes fewer), and
  // summed once at the end. Otherwise waves of one chunk per task, summed after each wave. The
  // sum runs in chunk order either way.
  const bool own = chunks * du_len * sizeof(float) <= kChunkPartialBytes;
  Buffers buf[ThreadPool::kMaxThreads];
  for (size_t t = 0; t < tasks; ++t) {
    const size_t s = kSlotTask + 4 * t;
    Buffers& b = buf[t];
    if (!(b.packed = ws.floats(s, std::max(p.xb_floats, dyb_floats)))) return false;
    if (!(b.v = ws.floats(s + 1, 36 * p.v_xi))) return false;
    if (!(b.m = ws.floats(s + 2, 36 * p.m_xi))) return false;
    if (!own && !(b.du = ws.floats(s + 3, du_len))) return false;
  }
  float* part[kWeightChunks] = {};
  for (size_t c = 0; own && c < chunks; ++c)
    if (!(part[c] = ws.floats(kSlotChunk + c, du_len))) return false;
  double* total = reinterpret_cast<double*>(ws.floats(kSlotU, 2 * du_len));
  if (!total) return false;
  auto one_block = [&](const Block& blk, const Buffers& b, float* du, bool first) {
    const size_t imgs = blk.n1 - blk.n0, trows = blk.tp1 - blk.tp0;
    const size_t tiles = input_block(wk, b.v, b.packed, x, d, p, blk);
    // dy's rows (zero past P, Q) -> channel blocks, then A dy A^T per tile
    for (size_t i = 0; i < imgs; ++i)
      for (size_t kb = 0; kb < p.KB; ++kb) {
        const size_t k0 = kb * L;
        wk.pack(b.packed + (i * p.KB + kb) * out_rows * p.Qp * L, dy + (blk.n0 + i) * out_img + k0 * d.P * d.Q,
                d.P * d.Q, std::min(L, d.K - k0), d.P, d.Q, static_cast<long>(4 * blk.tp0), 4 * trows, 0, p.Qp);
      }
    size_t t = 0;
    for (size_t i = 0; i < imgs; ++i)
      for (size_t tp = 0; tp < trows; ++tp, t += p.TQ)
        for (size_t kb = 0; kb < p.KB; ++kb)
          wk.grad_output(b.m + t * p.Ks + kb * L, p.m_xi, p.Ks,
                         b.packed + ((i * p.KB + kb) * out_rows + 4 * tp) * p.Qp * L, p.Qp, p.TQ);
    // dU[xi](Ks, Cs) (+)= Y[xi]^T(Ks, tiles) V[xi](tiles, Cs)
    for (size_t xi = 0; xi < 36; ++xi)
      wk.gemm_grad(du + xi * p.Ks * p.Cs, b.m + xi * p.m_xi, b.v + xi * p.v_xi, tiles, p.Ks, p.Cs, !first);
  };
  auto one_chunk = [&](size_t chunk, const Buffers& b, float* du) {
    const size_t b0 = chunk * p.blocks / chunks, b1 = (chunk + 1) * p.blocks / chunks;
    for (size_t bi = b0; bi < b1; ++bi) one_block(p.block(bi), b, du, bi == b0);
  };
  if (own) {
    parallel_claim(pool, chunks, [&](size_t t, size_t chunk) { one_chunk(chunk, buf[t], part[chunk]); });
    parallel_range(pool, du_len, kMapGrain, 16, [&](size_t i0, size_t i1) {
      for (size_t i = i0; i < i1; ++i) {
        double acc = 0.0;
        for (size_t c = 0; c < chunks; ++c) acc += part[c][i];
        total[i] = acc;
      }
    });
  } else {
    std::fill(total, total + du_len, 0.0);
    for (size_t first = 0; first < chunks; first += tasks) {
      const size_t wave = std::min(tasks, chunks - first);
      pool.run(wave, [&](size_t t) { one_chunk(first + t, buf[t], buf[t].du); });
      // the wave's partials in chunk order, two per pass over total (which is twice their size)
      for (size_t t = 0; t < wave; t += 2) {
        const float* p0 = buf[t].du;
        const float* p1 = t + 1 < wave ? buf[t + 1].du : nullptr;
        parallel_range(pool, du_len, kMapGrain, 16, [&](size_t i0, size_t i1) {
          if (p1) {
            for (size_t i = i0; i < i1; ++i) total[i] = total[i] + p0[i] + p1[i];
          } else {
            for (size_t i = i0; i < i1; ++i) total[i] += p0[i];
          }
        });
      }
    }
  }
  // dw += G^T dU G, rows of dU are output channels
  parallel_range(pool, d.K, std::max<size_t>(1, 1024 / std::max<size_t>(1, d.C)), 1, [&](size_t k0, size_t k1) {
    ref::winograd_weight_grad_f32(dw, total, p.Ks * p.Cs, p.Cs, d.C, k0, k1);
  });
  if (db) {
    // each channel summed by one thread, image by image in order (as conv.cc)
    const size_t PQ = d.P * d.Q;
    parallel_range(pool, d.K, std::max<size_t>(1, kMapGrain / std::max<size_t>(1, d.N * PQ)), 1,
                   [&](size_t k0, size_t k1) {
                     for (size_t k = k0; k < k1; ++k) {
                       double acc = 0.0;
                       for (size_t n = 0; n < d.N; ++n) acc += sum(dy + n * out_img + k * PQ, PQ);
                       db[k] = static_cast<float>(db[k] + acc);
                     }
                   });
  }
  return true;
}

}  // namespace kiln
