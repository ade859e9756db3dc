// The pixel-major lowering: see conv_rows.h.
//
// Determinism: images are processed in groups whose size depends on the shape only; every group
// is one GEMM (the same blocks in the same order whichever thread runs it, or all threads
// together), and groups write disjoint outputs. Results are identical for any thread count.
#include "conv_rows.h"

#include <algorithm>
#include <cstring>
#include <initializer_list>

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

// Workspace slots, counted from the `slot` each pass is given: the packed weight at `slot`, each
// task's buffers (task_buffers), the weight gradient's partials, then the offset tables through
// which the GEMMs read windows in place.
constexpr size_t kTaskSlots = 8;  // per task
size_t task_slot(size_t slot) { return slot + 1; }
size_t partial_slot(size_t slot) { return task_slot(slot) + kTaskSlots * ThreadPool::kMaxThreads; }
size_t table_slot(size_t slot) { return partial_slot(slot) + kRowsWeightChunks; }

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

// Images [n0, n0 + gn) of src (img floats each, N in all) as consecutive padded channels-last
// planes of `plane` floats each (see to_padded_channels_last).
void group_planes(const ConvKernels& kern, float* planes, size_t plane, const float* src, size_t img, size_t n0, size_t gn,
                  size_t N, const Conv2dDims& d, const RowsLayout& l) {
  for (size_t i = 0; i < gn; ++i)
    to_padded_channels_last(kern, planes + i * plane, src + (n0 + i) * img, n0 + i + 1 < N ? src + (n0 + i + 1) * img : nullptr,
                            d, l);
}

// The windows of `images` consecutive planes (`plane` floats apart) as GEMM offsets: per output
// pixel the offset of its window's first tap, per tap (r, s) its offset from there; each tap is a
// run of C floats. Both tables in the workspace, at table_slot(slot).
struct Windows {
  const long *pixels, *taps;  // (images*P*Q), (R*S)
};

bool window_offsets(Workspace& ws, size_t slot, const Conv2dDims& d, const RowsLayout& l, size_t images, size_t plane,
                    Windows* out) {
  long* pixels = ws.array<long>(table_slot(slot), images * l.PQ);
  long* taps = ws.array<long>(table_slot(slot) + 1, d.R * d.S);
  if (!pixels || !taps) return false;
  for (size_t i = 0; i < images; ++i)
    for (size_t p = 0; p < d.P; ++p)
      for (size_t q = 0; q < d.Q; ++q)
        pixels[(i * d.P + p) * d.Q + q] = static_cast<long>(i * plane + (p * d.stride_h * l.Wq + q * d.stride_w) * d.C);
  for (size_t r = 0; r < d.R; ++r)
    for (size_t s = 0; s < d.S; ++s) taps[r * d.S + s] = static_cast<long>((r * d.dil_h * l.Wq + s * d.dil_w) * d.C);
  out->pixels = pixels, out->taps = taps;
  return true;
}

// A group size that makes the group count a multiple of the threads when there are more groups
// than threads (3 groups on 2 threads left one idle a third of the time). Only for passes whose
// bits do not depend on the grouping (every output one tile's sum in a fixed k order).
size_t balanced_group(size_t N, size_t group, size_t threads) {
  const size_t groups = ceil_div(N, group);
  return groups > threads ? ceil_div(N, ceil_div(groups, threads) * threads) : group;
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
// task_slot(slot) + t * kTaskSlots); nullptr for a size of 0. The callers keep one TaskBuffers per
// possible task, on the stack.
constexpr size_t kMaxTaskBuffers = 5;
struct TaskBuffers {
  float* buf[kMaxTaskBuffers];
  float* operator[](size_t i) const { return buf[i]; }
};

template <size_t Count>
bool task_buffers(Workspace& ws, size_t slot, size_t tasks, const size_t (&sizes)[Count], TaskBuffers* out) {
  static_assert(Count <= kMaxTaskBuffers && kMaxTaskBuffers <= kTaskSlots, "a task's buffers fit in its slots");
  for (size_t t = 0; t < tasks; ++t)
    for (size_t i = 0; i < Count; ++i) {
      const size_t n = sizes[i];
      float* p = n ? ws.floats(task_slot(slot) + t * kTaskSlots + i, n) : nullptr;
      if (n && !p) return false;
      out[t].buf[i] = p;
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
  const size_t threads = static_cast<size_t>(pool.size());
  const size_t group =
      balanced_group(d.N, std::max<size_t>(1, std::min({d.N, ceil_div(kGroupRows, l.PQ), kPlanesMaxFloats / plane})), threads);
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
  Windows win;
  if (!window_offsets(ws, slot, d, l, group, plane, &win)) return false;
  GemmDims g;  // yt(group*PQ, K) = windows(group*PQ, RSC) wp(RSC, K) + b per column
  g.M = group * l.PQ, g.N = d.K, g.K = l.RSC;
  g.ldc = d.K;
  g.a_rows = win.pixels, g.a_taps = win.taps, g.a_run = d.C;
  g.b_packed = true;
  g.epilogue.bias_col = b;
  const GemmScratch gs = gemm_scratch(kern.gemm, g);
  const size_t groups = ceil_div(d.N, group);
  const bool shared = groups < threads;
  TaskBuffers buf[ThreadPool::kMaxThreads];  // per task: planes, yt, apack
  if (!task_buffers(ws, slot, shared ? 1 : std::min(threads, groups), {group * plane, g.M * d.K, gs.a_floats}, buf))
    return false;
  return for_units(pool, groups, shared, [&](size_t t, size_t gi, bool on_pool) {
    const TaskBuffers& sc = buf[t];
    const size_t n0 = gi * group, gn = std::min(group, d.N - n0);
    group_planes(kern, sc[0], plane, x, in_img, n0, gn, d.N, d, l);
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
  TaskBuffers buf[ThreadPool::kMaxThreads];  // per task: plane, drows, dy gathered, apack, bpack
  if (!task_buffers(ws, slot, shared ? 1 : std::min(threads, groups),
                    {l.Hq * l.Wq * d.C, g.M * l.RSC, l.group > 1 ? d.K * g.M : 0, gs.a_floats, gs.b_floats}, buf))
    return false;
  const size_t i0 = std::min(l.Hq, d.pad_h), i1 = std::min(l.Hq, d.pad_h + d.H);  // plane rows inside x
  const size_t j0 = std::min(l.Wq, d.pad_w), j1 = std::min(l.Wq, d.pad_w + d.W);
  return for_units(pool, groups, shared, [&](size_t t, size_t group, bool on_pool) {
    const TaskBuffers& s = buf[t];
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

// The input gradient of a strided convolution, one stride phase of dx at a time. Pixel
// (i*sh + a - pad_h, j*sw + b - pad_w) of dx, phase (a, b), gathers only the taps (r, s) with
// r*dil_h = a mod sh and s*dil_w = b mod sw, from dy at (i - m_r, j - n_s), m_r = r*dil_h / sh,
// n_s = s*dil_w / sw: a stride-1 correlation of dy with those taps. Each phase is then one GEMM
// over a group of images, its windows read in place (GemmDims::a_rows) from dy's channels-last
// plane, padded by the largest m_r above and n_s to the left:
//   dx_phase(pixels, C) = windows(pixels, taps*K) w_phase(taps*K, C)
// and scattered into dx's NCHW rows at stride (sh, sw). Every dx value is one tile's sum in a
// fixed order: identical for any thread count.
namespace {

struct PhaseAxis {  // one axis (rows or columns) of one phase
  size_t lo = 0, count = 0;  // output coordinates i in [lo, lo + count) land inside the input
  size_t taps = 0;           // kernel indices r on the phase (on_phase)
};

// Whether kernel index r reaches `phase` of its axis: r*dil = phase mod stride.
bool on_phase(size_t r, size_t phase, size_t stride, size_t dil) { return r * dil % stride == phase; }

PhaseAxis phase_axis(size_t phase, size_t stride, size_t dil, size_t pad, size_t size, size_t taps) {
  PhaseAxis ax;
  // coordinate i*stride + phase - pad inside [0, size)
  ax.lo = pad > phase ? (pad - phase + stride - 1) / stride : 0;
  const size_t hi = size + pad > phase ? (size - 1 + pad - phase) / stride + 1 : 0;
  ax.count = hi > ax.lo ? hi - ax.lo : 0;
  for (size_t r = 0; r < taps; ++r) ax.taps += on_phase(r, phase, stride, dil);
  return ax;
}

}  // namespace

// Same-process A/B against the paths before (2 threads): ResNet-20's 32 -> 64 s2 1.13-1.16x,
// ResNet-18's 64 -> 128 s2 at 56 1.15x, 128 -> 256 s2 at 28 1.17x and at 12 1.14x. 16 input
// channels (the GEMM half a register tile wide with AVX-512) joined once the gathered tile
// stopped spilling: ResNet-20's 16 -> 32 s2 1.32-1.35x (AVX2 1.17-1.19x), a 5x5 s2 over 16
// channels 2.0x. Left out: larger weights, which each group's GEMM streams from L3 again per
// phase (256 -> 512: 0.90-0.94x against the image groups, which stream it once).
constexpr size_t kPhasesMinChannels = 16;
constexpr size_t kPhasesMaxWeight = size_t{512} << 10;

bool rows_phases_apply(const Conv2dDims& d, const ConvKernels& kern) {
  return rows_forward_applies(d, kern) && d.C >= kPhasesMinChannels && d.K * d.C * d.R * d.S <= kPhasesMaxWeight;
}

bool rows_backward_data_phases(ThreadPool& pool, Workspace& ws, const ConvKernels& kern, float* dx, const float* dy,
                               const float* w, const Conv2dDims& d, bool overwrite, size_t slot) {
  const size_t sh = d.stride_h, sw = d.stride_w, K = d.K, C = d.C, RS = d.R * d.S;
  auto row_axis = [&](size_t a) { return phase_axis(a, sh, d.dil_h, d.pad_h, d.H, d.R); };
  auto col_axis = [&](size_t b) { return phase_axis(b, sw, d.dil_w, d.pad_w, d.W, d.S); };
  size_t top = 0, left = 0, hd = d.P, wd = d.Q;  // dy plane padding and size
  size_t most_rows = 0, most_cols = 0;           // the largest phase: most_rows x most_cols pixels
  for (size_t r = 0; r < d.R; ++r) top = std::max(top, r * d.dil_h / sh);
  for (size_t s = 0; s < d.S; ++s) left = std::max(left, s * d.dil_w / sw);
  for (size_t a = 0; a < sh; ++a) {
    const PhaseAxis ax = row_axis(a);
    hd = std::max(hd, ax.lo + ax.count), most_rows = std::max(most_rows, ax.count);
  }
  for (size_t b = 0; b < sw; ++b) {
    const PhaseAxis ax = col_axis(b);
    wd = std::max(wd, ax.lo + ax.count), most_cols = std::max(most_cols, ax.count);
  }
  const size_t most = std::max<size_t>(1, most_rows * most_cols);
  hd += top, wd += left;
  // dy as the "input" of a layout: K channels of P x Q, placed at (top, left) in (hd, wd)
  Conv2dDims dd = d;
  dd.C = K, dd.H = d.P, dd.W = d.Q, dd.pad_h = top, dd.pad_w = left;
  RowsLayout ld;
  ld.Hq = hd, ld.Wq = wd;
  const size_t plane = hd * wd * K, in_img = C * d.H * d.W, dy_img = K * d.P * d.Q;
  const size_t threads = static_cast<size_t>(pool.size());
  const size_t group =
      balanced_group(d.N, std::max<size_t>(1, std::min({d.N, ceil_div(kGroupRows, most), kPlanesMaxFloats / plane})), threads);
  const size_t NR = kern.gemm.shape.nr, slivers = ceil_div(C, NR);

  // Per phase that some tap reaches: its packed weight (rows (tap, k), NR-column slivers over c)
  // and its GEMM. The GEMMs' offset tables are cut from three workspace tables: the taps (each
  // tap is on one phase: RS in all), the pixels of the group's images in dy's planes, and where
  // they go in dx (each dx pixel is on one phase: group*H*W in all).
  struct Phase {
    size_t a, b, taps;  // taps: the rows' times the columns'
    size_t pixels;      // per image: the rows' count times the columns'
    float* wp;
    GemmDims g;
  };
  Phase* phases = ws.array<Phase>(table_slot(slot), sh * sw);
  long* tap_table = ws.array<long>(table_slot(slot) + 1, RS);
  long* pixel_table = ws.array<long>(table_slot(slot) + 2, group * d.H * d.W);
  long* out_table = ws.array<long>(table_slot(slot) + 3, group * d.H * d.W);
  // the phases' weights, packed side by side: RS*K rows of slivers in all
  float* wall = ws.floats(slot, slivers * NR * RS * K);
  if (!phases || !tap_table || !pixel_table || !out_table || !wall) return false;
  size_t count = 0, taps_used = 0, pixels_used = 0, apack_floats = 0;
  // phases that no tap reaches (a dilation that is a multiple of the stride) hold zeros
  bool untouched = false;
  for (size_t a = 0; a < sh; ++a)
    for (size_t b = 0; b < sw; ++b) {
      const PhaseAxis ra = row_axis(a), cb = col_axis(b);
      if (ra.count == 0 || cb.count == 0) continue;
      if (ra.taps == 0 || cb.taps == 0) {
        untouched = true;
        continue;
      }
      Phase ph;
      ph.a = a, ph.b = b, ph.taps = ra.taps * cb.taps, ph.pixels = ra.count * cb.count;
      ph.wp = wall + taps_used * K * slivers * NR;
      long* tap_off = tap_table + taps_used;
      long* pixels = pixel_table + pixels_used;
      long* out = out_table + pixels_used;
      taps_used += ph.taps, pixels_used += group * ph.pixels;
      size_t t = 0;
      for (size_t r = 0; r < d.R; ++r)
        for (size_t s = 0; s < d.S; ++s)
          if (on_phase(r, a, sh, d.dil_h) && on_phase(s, b, sw, d.dil_w))
            tap_off[t++] = static_cast<long>(((top - r * d.dil_h / sh) * wd + (left - s * d.dil_w / sw)) * K);
      size_t e = 0;
      for (size_t i = 0; i < group; ++i)
        for (size_t y = 0; y < ra.count; ++y)
          for (size_t x = 0; x < cb.count; ++x, ++e) {
            pixels[e] = static_cast<long>(i * plane + ((ra.lo + y) * wd + cb.lo + x) * K);
            // where the pixel sits in the group's channels-last dx (H, W, C) per image
            out[e] = static_cast<long>(
                (i * d.H * d.W + ((ra.lo + y) * sh + a - d.pad_h) * d.W + (cb.lo + x) * sw + b - d.pad_w) * C);
          }
      GemmDims& g = ph.g;
      g.M = group * ph.pixels, g.N = C, g.K = ph.taps * K;
      g.c_rows = out;
      g.a_rows = pixels, g.a_taps = tap_off, g.a_run = K;
      g.b_packed = true;
      apack_floats = std::max(apack_floats, gemm_scratch(kern.gemm, g).a_floats);
      phases[count++] = ph;
    }
  parallel_range(pool, count, 1, 1, [&](size_t p0, size_t p1) {
    for (size_t pi = p0; pi < p1; ++pi) {
      const Phase& ph = phases[pi];
      size_t t = 0;
      for (size_t r = 0; r < d.R; ++r)
        for (size_t s = 0; s < d.S; ++s) {
          if (!on_phase(r, ph.a, sh, d.dil_h) || !on_phase(s, ph.b, sw, d.dil_w)) continue;
          for (size_t k = 0; k < K; ++k)
            for (size_t sv = 0; sv < slivers; ++sv) {
              float* o = ph.wp + (sv * ph.taps * K + t * K + k) * NR;
              for (size_t j = 0, c = sv * NR; j < NR; ++j, ++c) o[j] = c < C ? w[((k * C + c) * d.R + r) * d.S + s] : 0.0f;
            }
          ++t;
        }
    }
  });
  const size_t groups = ceil_div(d.N, group);
  const bool shared = groups < threads;
  TaskBuffers buf[ThreadPool::kMaxThreads];  // per task: dy planes, dx channels-last, apack
  const size_t tasks = shared ? 1 : std::min(threads, groups);
  if (!task_buffers(ws, slot, tasks, {group * plane, group * in_img, apack_floats}, buf)) return false;
  return for_units(pool, groups, shared, [&](size_t t, size_t gi, bool on_pool) {
    const TaskBuffers& sc = buf[t];
    const size_t n0 = gi * group, gn = std::min(group, d.N - n0);
    group_planes(kern, sc[0], plane, dy, dy_img, n0, gn, d.N, dd, ld);
    if (untouched) std::fill(sc[1], sc[1] + gn * in_img, 0.0f);
    for (size_t pi = 0; pi < count; ++pi) {
      const Phase& ph = phases[pi];
      GemmDims g = ph.g;
      g.M = gn * ph.pixels;
      if (!run_gemm(pool, ws, kern.gemm, on_pool, sc[2], nullptr, sc[1], sc[0], ph.wp, g)) return false;
    }
    for (size_t i = 0; i < gn; ++i)  // dx:(C, H*W) (+)= the channels-last (H*W, C), transposed
      kern.transpose(dx + (n0 + i) * in_img, d.H * d.W, sc[1] + i * in_img, C, d.H * d.W, C, !overwrite);
    return true;
  });
}

constexpr size_t kSharedGroupFloats = size_t{16} << 20;

// Above this many floats of dw the GEMM reads its B rows (128 bytes from each pixel's window)
// in place from too many places to keep up with packed panels: ResNet-18's 256 -> 512 s2
// (1.2M floats) 0.91-0.94x against im2col image groups; 128 -> 256 (295K) 1.12-1.26x faster.
constexpr size_t kGatheredWeightMax = size_t{512} << 10;

bool rows_weight_gathers(const Conv2dDims& d, const ConvKernels& kern) {
  return rows_forward_applies(d, kern) && d.C % (kern.gemm.shape.nr / 2) == 0 && d.K * d.C * d.R * d.S <= kGatheredWeightMax;
}

bool rows_backward_weight(ThreadPool& pool, Workspace& ws, const ConvKernels& kern, float* dw, const float* x,
                          const float* dy, const Conv2dDims& d, size_t slot) {
  const RowsLayout l = rows_layout(d);
  const size_t in_img = d.C * d.H * d.W, dw_len = d.K * l.RSC, plane = l.Hq * l.Wq * d.C;
  // With C a multiple of half the tile's width, the GEMM reads the windows in place
  // (GemmDims::b_taps: each half of a register tile's columns lies within one tap), from the
  // planes of a group of images;
  // otherwise through a rows matrix (im2row). Groups depend on the shape only: they fix the
  // order of the sums.
  const bool gathers = rows_weight_gathers(d, kern);
  // A dw above rows_weight_max is summed by one GEMM per group of images over all threads (one
  // partial, not one per chunk of images: 16 of them would be megabytes each), with groups of
  // up to kSharedGroupFloats of planes and dy.
  const bool single = dw_len > rows_weight_max;
  const size_t group = single    ? std::max<size_t>(1, std::min(d.N, kSharedGroupFloats / (plane + d.K * l.PQ)))
                       : gathers ? std::max<size_t>(1, std::min({d.N, ceil_div(kGroupRows, l.PQ), kPlanesMaxFloats / plane}))
                                 : l.group;
  Windows win{};
  if (gathers && !window_offsets(ws, slot, d, l, group, plane, &win)) return false;
  // Images are cut into chunks that depend on N only; a chunk's partial dw is summed group by
  // group on one thread (or all), and the partials are added in chunk order in double.
  const size_t chunks = single ? 1 : std::min(d.N, kRowsWeightChunks), threads = static_cast<size_t>(pool.size());
  GemmDims g;  // partial(K, RSC) (+)= dy_g(K, group*PQ) rows(group*PQ, RSC)
  g.M = d.K, g.N = l.RSC, g.K = group * l.PQ;
  g.lda = g.K, g.ldb = l.RSC, g.ldc = l.RSC;
  if (gathers) g.b_rows = win.pixels, g.b_taps = win.taps, g.b_run = d.C;
  const GemmScratch gs = gemm_scratch(kern.gemm, g);
  const bool shared = chunks < threads;
  TaskBuffers buf[ThreadPool::kMaxThreads];  // per task: plane(s), rows, dy gathered, apack, bpack
  if (!task_buffers(ws, slot, shared ? 1 : std::min(threads, chunks),
                    {gathers ? group * plane : plane, gathers ? 0 : g.K * l.RSC, group > 1 ? d.K * g.K : 0, gs.a_floats,
                     gs.b_floats},
                    buf))
    return false;
  float* partial[kRowsWeightChunks];
  for (size_t c = 0; c < chunks; ++c)
    if (!(partial[c] = ws.floats(partial_slot(slot) + c, dw_len))) return false;
  const bool ok = for_units(pool, chunks, shared, [&](size_t t, size_t chunk, bool on_pool) {
    const TaskBuffers& s = buf[t];
    const size_t c0 = chunk * d.N / chunks, c1 = (chunk + 1) * d.N / chunks;
    for (size_t n0 = c0; n0 < c1; n0 += group) {
      const size_t gn = std::min(group, c1 - n0);
      if (gathers) {
        group_planes(kern, s[0], plane, x, in_img, n0, gn, d.N, d, l);
      } else {
        for (size_t i = 0; i < gn; ++i) {  // one plane, its rows copied out image by image
          group_planes(kern, s[0], plane, x, in_img, n0 + i, 1, d.N, d, l);
          kern.im2row(s[1] + i * l.PQ * l.RSC, s[0], l.Wq, d);
        }
      }
      GemmDims gg = g;
      gg.K = gg.lda = gn * l.PQ;
      gg.beta = n0 == c0 ? 0.0f : 1.0f;
      if (!run_gemm(pool, ws, kern.gemm, on_pool, s[3], s[4], partial[chunk], gather_dy(s[2], dy, d, l.PQ, n0, gn),
                    gathers ? s[0] : s[1], gg))
        return false;
    }
    return true;
  });
  if (!ok) return false;
  // dw:(K, C, R, S) += the partials' sum, read in their (K, RSC) order
  parallel_range(pool, d.K, 1, 1, [&](size_t k0, size_t k1) {
    for (size_t k = k0; k < k1; ++k)
      for (size_t rs = 0; rs < d.R * d.S; ++rs)
        for (size_t c = 0; c < d.C; ++c) {
          const size_t j = k * l.RSC + rs * d.C + c;
          double sum = 0.0;
          for (size_t p = 0; p < chunks; ++p) sum += partial[p][j];
          float& out = dw[(k * d.C + c) * d.R * d.S + rs];
          out = static_cast<float>(out + sum);
        }
  });
  return true;
}

}  // namespace kiln
