// The pixel-major lowering: see conv_rows.h.
//
// Determinism: images are processed in groups whose size depends on the shape only; every group
// is one GEMM (the same blocks in the same order whichever thread runs it, or all threads
// together), and groups write disjoint outputs. Results are identical for any thread count.
#include "conv_rows.h"

#include <algorithm>
#include <cstring>
#include <initializer_list>
#include <vector>

#include "parallel.h"

namespace kiln {
namespace {

// A group of images makes one GEMM of about this many rows: enough rows that packing the weight
// once per group is noise, few enough that the group's rows stay in L2 (1 MiB per core here)...
constexpr size_t kGroupRows = 256;
// ...together with this cap on the rows matrix (512 KiB).
constexpr size_t kRowsMaxFloats = size_t{128} << 10;
// Fewer input channels than this keep the channel-major lowering (see rows_applies).
constexpr size_t kRowsMinChannels = 8;
// The weight gradient sums its images in this many chunks at most (one partial dw each).
constexpr size_t kRowsWeightChunks = 16;

size_t ceil_div(size_t a, size_t b) { return (a + b - 1) / b; }

// How a convolution is lowered pixel-major: the padded channels-last plane (Hq, Wq, C) holds
// every input pixel a window reaches, and images go in groups of `group`.
struct RowsLayout {
  size_t Hq, Wq, PQ, RSC, group;
};

RowsLayout rows_layout(const Conv2dDims& d) {
  RowsLayout l;
  l.Hq = (d.P - 1) * d.stride_h + (d.R - 1) * d.dil_h + 1;
  l.Wq = (d.Q - 1) * d.stride_w + (d.S - 1) * d.dil_w + 1;
  l.PQ = d.P * d.Q;
  l.RSC = d.R * d.S * d.C;
  const size_t by_rows = ceil_div(kGroupRows, l.PQ);
  const size_t by_size = std::max<size_t>(1, kRowsMaxFloats / (l.PQ * l.RSC));
  l.group = std::max<size_t>(1, std::min({d.N, by_rows, by_size}));
  return l;
}

// xp:(Hq, Wq, C) = x:(C, H, W) moved by the padding; zero where that is outside x.
void to_padded_channels_last(const ConvKernels& kern, float* xp, const float* x, const float* next, const Conv2dDims& d,
                             const RowsLayout& l) {
  const size_t C = d.C, row_floats = l.Wq * C;
  const size_t j0 = std::min(l.Wq, d.pad_w), j1 = std::min(l.Wq, d.pad_w + d.W);
  for (size_t i = 0; i < l.Hq; ++i) {
    float* row = xp + i * row_floats;
    if (i < d.pad_h || i - d.pad_h >= d.H) {
      std::fill(row, row + row_floats, 0.0f);
      continue;
    }
    // x is read C channels at a time, H*W apart: too many streams for the hardware prefetcher
    // to follow, so fetch the rows two ahead (into the next image on the last rows).
    {
      const size_t ahead = i - d.pad_h + 2;
      const float* src = ahead < d.H ? x + ahead * d.W : next ? next + (ahead - d.H) * d.W : nullptr;
      if (src)
        for (size_t c = 0; c < C; ++c)
          for (size_t k = 0; k < d.W; k += 16) __builtin_prefetch(src + c * d.H * d.W + k, 0, 3);
    }
    std::fill(row, row + j0 * C, 0.0f);
    std::fill(row + j1 * C, row + row_floats, 0.0f);
    if (j0 < j1) kern.transpose(row + j0 * C, C, x + (i - d.pad_h) * d.W + (j0 - d.pad_w), d.H * d.W, C, j1 - j0, false);
  }
}

// The weight reordered for the GEMMs: (K, RSC) when `k_major`, else (RSC, K), with RSC index
// (r*S + s)*C + c.
void reorder_weight(float* out, const float* w, const Conv2dDims& d, bool k_major) {
  const size_t RSC = d.R * d.S * d.C;
  for (size_t k = 0; k < d.K; ++k)
    for (size_t c = 0; c < d.C; ++c)
      for (size_t r = 0; r < d.R; ++r)
        for (size_t s = 0; s < d.S; ++s) {
          const size_t j = (r * d.S + s) * d.C + c;
          out[k_major ? k * RSC + j : j * d.K + k] = w[((k * d.C + c) * d.R + r) * d.S + s];
        }
}

// dy of images [n0, n0 + gn) side by side as one (K, gn*PQ) matrix (their (K, PQ) planes are
// apart in dy); one image is used in place.
const float* gather_dy(float* out, const float* dy, const Conv2dDims& d, size_t PQ, size_t n0, size_t gn) {
  const float* first = dy + n0 * d.K * PQ;
  if (gn == 1) return first;
  for (size_t i = 0; i < gn; ++i)
    for (size_t k = 0; k < d.K; ++k)
      std::memcpy(out + k * gn * PQ + i * PQ, first + (i * d.K + k) * PQ, PQ * sizeof(float));
  return out;
}

// Each task's scratch: one buffer per size, from consecutive workspace slots (task t's start at
// base + t * kTaskSlots); nullptr for a size of 0.
constexpr size_t kTaskSlots = 8;
bool task_buffers(Workspace& ws, size_t base, size_t tasks, std::initializer_list<size_t> sizes,
                  std::vector<std::vector<float*>>* out) {
  out->assign(tasks, {});
  for (size_t t = 0; t < tasks; ++t) {
    size_t slot = base + t * kTaskSlots;
    for (size_t n : sizes) {
      float* p = n ? ws.floats(slot, n) : nullptr;
      if (n && !p) return false;
      (*out)[t].push_back(p);
      ++slot;
    }
  }
  return true;
}

// Runs unit(task, i, on_pool) for i < n: claimed by the pool's threads (each unit's GEMM on its
// own thread) when there are at least as many units as threads, else in order on the calling
// thread with each GEMM over all threads (on_pool). Either way each unit's GEMM is the same, so
// the bits do not depend on the thread count.
template <typename Unit>
bool for_units(ThreadPool& pool, size_t n, bool shared, Unit unit) {
  if (shared) {
    for (size_t i = 0; i < n; ++i)
      if (!unit(size_t{0}, i, true)) return false;
    return true;
  }
  parallel_claim(pool, n, [&](size_t t, size_t i) { unit(t, i, false); });
  return true;
}

// The GEMM of one unit: on all threads, or on the calling one with its task's packing buffers.
bool run_gemm(ThreadPool& pool, Workspace& ws, const GemmKernel& gk, bool on_pool, float* apack, float* bpack, float* c,
              const float* a, const float* b, const GemmDims& g) {
  if (on_pool) return gemm(pool, ws, gk, c, a, b, g, GemmBatch{});
  gemm_serial(gk, apack, bpack, c, a, b, g);
  return true;
}

}  // namespace

bool rows_applies(const Conv2dDims& d, const ConvKernels& kern) {
  // Few channels make short window runs (a 7x7 stem on 1-3 channels copies 7-21 floats at a
  // time: 0.73-0.81x the channel-major lowering); an image whose rows outgrow the cap
  // (ResNet-18's 64 -> 128 at 56x56: 1.8 MB) streams them from L3 (0.90x forward).
  return kern.gemm.tile && kern.transpose && kern.im2row && kern.row2im_add && (d.stride_h > 1 || d.stride_w > 1) &&
         d.R * d.S > 1 && d.C >= kRowsMinChannels && d.P * d.Q * d.R * d.S * d.C <= kRowsMaxFloats;
}

// The forward GEMM reads its windows in place (GemmDims::a_rows): pixel i's window is R*S runs
// of C floats in the channels-last planes, tap (r, s) at a fixed offset from the pixel's first
// one, so no rows matrix is written. Its images go in groups of at least kGroupRows pixels, with
// their planes at most this many floats (1 MiB, L2) unless one image alone is larger.
constexpr size_t kPlanesMaxFloats = size_t{256} << 10;

bool rows_forward_applies(const Conv2dDims& d, const ConvKernels& kern) {
  // as rows_applies, without a rows matrix to cap: one image's plane in L2
  return kern.gemm.tile && kern.transpose && (d.stride_h > 1 || d.stride_w > 1) && d.R * d.S > 1 &&
         d.C >= kRowsMinChannels && rows_layout(d).Hq * rows_layout(d).Wq * d.C <= kPlanesMaxFloats;
}

bool rows_forward(ThreadPool& pool, Workspace& ws, const ConvKernels& kern, float* y, const float* x, const float* w,
                  const float* b, const Conv2dDims& d, size_t slot) {
  const RowsLayout l = rows_layout(d);
  const size_t in_img = d.C * d.H * d.W, out_img = d.K * l.PQ, plane = l.Hq * l.Wq * d.C;
  // Groups are claimed by the threads whole: their count is made a multiple of the thread count
  // when there are more than one per thread (3 groups on 2 threads left one idle a third of the
  // time). Grouping changes no bits: every output is one tile's sum in a fixed k order.
  const size_t threads = static_cast<size_t>(pool.size());
  size_t group = std::max<size_t>(1, std::min({d.N, ceil_div(kGroupRows, l.PQ), kPlanesMaxFloats / plane}));
  if (ceil_div(d.N, group) > threads) group = ceil_div(d.N, ceil_div(ceil_div(d.N, group), threads) * threads);
  // the weight as the tile's packed B: NR-column slivers of (RSC, K), packed once for all groups
  const size_t NR = kern.gemm.shape.nr, slivers = ceil_div(d.K, NR);
  float* wp = ws.floats(slot, slivers * NR * l.RSC);
  if (!wp) return false;
  parallel_range(pool, slivers, 1, 1, [&](size_t s0, size_t s1) {
    for (size_t sv = s0; sv < s1; ++sv)  // row (rs, c) of sliver sv: w[k, c, rs] for its NR k
      for (size_t c = 0; c < d.C; ++c)
        for (size_t rs = 0; rs < d.R * d.S; ++rs) {
          float* o = wp + (sv * l.RSC + rs * d.C + c) * NR;
          for (size_t j = 0, k = sv * NR; j < NR; ++j, ++k) o[j] = k < d.K ? w[(k * d.C + c) * d.R * d.S + rs] : 0.0f;
        }
  });
  std::vector<long> pixels(group * l.PQ), taps(d.R * d.S);
  for (size_t i = 0; i < group; ++i)
    for (size_t p = 0; p < d.P; ++p)
      for (size_t q = 0; q < d.Q; ++q)
        pixels[(i * d.P + p) * d.Q + q] = static_cast<long>(i * plane + (p * d.stride_h * l.Wq + q * d.stride_w) * d.C);
  for (size_t r = 0; r < d.R; ++r)
    for (size_t s = 0; s < d.S; ++s) taps[r * d.S + s] = static_cast<long>((r * d.dil_h * l.Wq + s * d.dil_w) * d.C);
  GemmDims g;  // yt(group*PQ, K) = windows(group*PQ, RSC) wp(RSC, K) + b per column
  g.M = group * l.PQ, g.N = d.K, g.K = l.RSC;
  g.ldc = d.K;
  g.a_rows = pixels.data(), g.a_taps = taps.data(), g.a_run = d.C;
  g.b_packed = true;
  g.epilogue.bias_col = b;
  const GemmScratch gs = gemm_scratch(kern.gemm, g);
  const size_t groups = ceil_div(d.N, group);
  const bool shared = groups < threads;
  std::vector<std::vector<float*>> buf;  // per task: planes, yt, apack
  if (!task_buffers(ws, slot + 1, shared ? 1 : std::min(threads, groups), {group * plane, g.M * d.K, gs.a_floats}, &buf))
    return false;
  return for_units(pool, groups, shared, [&](size_t t, size_t gi, bool on_pool) {
    const std::vector<float*>& sc = buf[t];
    const size_t n0 = gi * group, gn = std::min(group, d.N - n0);
    for (size_t i = 0; i < gn; ++i)
      to_padded_channels_last(kern, sc[0] + i * plane, x + (n0 + i) * in_img,
                              n0 + i + 1 < d.N ? x + (n0 + i + 1) * in_img : nullptr, d, l);
    GemmDims gg = g;
    gg.M = gn * l.PQ;
    if (!run_gemm(pool, ws, kern.gemm, on_pool, sc[2], nullptr, sc[1], sc[0], wp, gg)) return false;
    for (size_t i = 0; i < gn; ++i)
      kern.transpose(y + (n0 + i) * out_img, l.PQ, sc[1] + i * l.PQ * d.K, d.K, l.PQ, d.K, false);
    return true;
  });
}

bool rows_backward_data(ThreadPool& pool, Workspace& ws, const ConvKernels& kern, float* dx, const float* dy,
                        const float* w, const Conv2dDims& d, bool overwrite, size_t slot) {
  const RowsLayout l = rows_layout(d);
  const size_t in_img = d.C * d.H * d.W;
  float* wr = ws.floats(slot, d.K * l.RSC);
  if (!wr) return false;
  reorder_weight(wr, w, d, true);
  GemmDims g;  // drows(group*PQ, RSC) = dy_g^T(group*PQ, K) wr(K, RSC)
  g.M = l.group * l.PQ, g.N = l.RSC, g.K = d.K;
  g.trans_a = true;
  g.lda = g.M, g.ldb = l.RSC, g.ldc = l.RSC;
  const GemmScratch gs = gemm_scratch(kern.gemm, g);
  const size_t groups = ceil_div(d.N, l.group), threads = static_cast<size_t>(pool.size());
  const bool shared = groups < threads;
  std::vector<std::vector<float*>> buf;  // per task: plane, drows, dy gathered, apack, bpack
  if (!task_buffers(ws, slot + 1, shared ? 1 : std::min(threads, groups),
                    {l.Hq * l.Wq * d.C, g.M * l.RSC, l.group > 1 ? d.K * g.M : 0, gs.a_floats, gs.b_floats}, &buf))
    return false;
  const size_t i0 = std::min(l.Hq, d.pad_h), i1 = std::min(l.Hq, d.pad_h + d.H);  // plane rows inside x
  const size_t j0 = std::min(l.Wq, d.pad_w), j1 = std::min(l.Wq, d.pad_w + d.W);
  return for_units(pool, groups, shared, [&](size_t t, size_t group, bool on_pool) {
    const std::vector<float*>& s = buf[t];
    const size_t n0 = group * l.group, gn = std::min(l.group, d.N - n0);
    GemmDims gg = g;
    gg.M = gg.lda = gn * l.PQ;
    if (!run_gemm(pool, ws, kern.gemm, on_pool, s[3], s[4], s[1], gather_dy(s[2], dy, d, l.PQ, n0, gn), wr, gg))
      return false;
    for (size_t i = 0; i < gn; ++i) {
      std::fill(s[0], s[0] + l.Hq * l.Wq * d.C, 0.0f);
      kern.row2im_add(s[0], s[1] + i * l.PQ * l.RSC, l.Wq, d);
      float* dxi = dx + (n0 + i) * in_img;
      // overwrite: zeroed here, just before the adds (cells no window reads stay zero)
      if (overwrite) std::fill(dxi, dxi + in_img, 0.0f);
      for (size_t r = i0; r < i1 && j0 < j1; ++r)  // dx:(C, H, W) += the plane's row r, transposed
        kern.transpose(dxi + (r - d.pad_h) * d.W + (j0 - d.pad_w), d.H * d.W, s[0] + (r * l.Wq + j0) * d.C, d.C,
                       j1 - j0, d.C, true);
    }
    return true;
  });
}

bool rows_backward_weight(ThreadPool& pool, Workspace& ws, const ConvKernels& kern, float* dw, const float* x,
                          const float* dy, const Conv2dDims& d, size_t slot) {
  const RowsLayout l = rows_layout(d);
  const size_t in_img = d.C * d.H * d.W, dw_len = d.K * l.RSC;
  // Images are cut into chunks that depend on N only; a chunk's partial dw is summed group by
  // group on one thread (or all), and the partials are added in chunk order in double.
  const size_t chunks = std::min(d.N, kRowsWeightChunks), threads = static_cast<size_t>(pool.size());
  GemmDims g;  // partial(K, RSC) (+)= dy_g(K, group*PQ) rows(group*PQ, RSC)
  g.M = d.K, g.N = l.RSC, g.K = l.group * l.PQ;
  g.lda = g.K, g.ldb = l.RSC, g.ldc = l.RSC;
  const GemmScratch gs = gemm_scratch(kern.gemm, g);
  const bool shared = chunks < threads;
  std::vector<std::vector<float*>> buf;  // per task: plane, rows, dy gathered, apack, bpack
  if (!task_buffers(ws, slot + 1, shared ? 1 : std::min(threads, chunks),
                    {l.Hq * l.Wq * d.C, g.K * l.RSC, l.group > 1 ? d.K * g.K : 0, gs.a_floats, gs.b_floats}, &buf))
    return false;
  std::vector<float*> partial(chunks);
  for (size_t c = 0; c < chunks; ++c)
    if (!(partial[c] = ws.floats(slot + 1 + kTaskSlots * ThreadPool::kMaxThreads + c, dw_len))) return false;
  const bool ok = for_units(pool, chunks, shared, [&](size_t t, size_t chunk, bool on_pool) {
    const std::vector<float*>& s = buf[t];
    const size_t c0 = chunk * d.N / chunks, c1 = (chunk + 1) * d.N / chunks;
    for (size_t n0 = c0; n0 < c1; n0 += l.group) {
      const size_t gn = std::min(l.group, c1 - n0);
      for (size_t i = 0; i < gn; ++i) {
        to_padded_channels_last(kern, s[0], x + (n0 + i) * in_img, n0 + i + 1 < d.N ? x + (n0 + i + 1) * in_img : nullptr, d, l);
        kern.im2row(s[1] + i * l.PQ * l.RSC, s[0], l.Wq, d);
      }
      GemmDims gg = g;
      gg.K = gg.lda = gn * l.PQ;
      gg.beta = n0 == c0 ? 0.0f : 1.0f;
      if (!run_gemm(pool, ws, kern.gemm, on_pool, s[3], s[4], partial[chunk], gather_dy(s[2], dy, d, l.PQ, n0, gn), s[1], gg))
        return false;
    }
    return true;
  });
  if (!ok) return false;
  // dw:(K, C, R, S) += the partials' sum, from (K, RSC) order
  parallel_range(pool, d.K, 1, 1, [&](size_t k0, size_t k1) {
    for (size_t k = k0; k < k1; ++k)
      for (size_t c = 0; c < d.C; ++c)
        for (size_t r = 0; r < d.R; ++r)
          for (size_t s = 0; s < d.S; ++s) {
            const size_t j = k * l.RSC + (r * d.S + s) * d.C + c;
            double sum = 0.0;
            for (size_t p = 0; p < chunks; ++p) sum += partial[p][j];
            float& out = dw[((k * d.C + c) * d.R + r) * d.S + s];
            out = static_cast<float>(out + sum);
          }
  });
  return true;
}

}  // namespace kiln
