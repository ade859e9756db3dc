// The blocked GEMM (BLIS loop order). For each block of NC columns (jc) and KC of the inner
// dimension (pc): op(B)[pc, jc] is packed into NR-wide slivers (KC x NR each: one sliver stays in
// L1 while it is used); each thread packs MC rows of op(A) into MR-tall slivers (an MC x KC block
// that stays in L2) and runs the register tile over every (MR-sliver, NR-sliver) pair, B sliver
// outer so that it is reused from L1 across all A slivers.
//
// Determinism: every element of C is computed by one tile with the same K blocks in the same
// order, whatever the thread count; threads only decide which tiles they run.
#include "gemm.h"

#include <algorithm>
#include <atomic>
#include <new>
#include <thread>

namespace kiln {
namespace {

// Cache blocking for Zen 5 (48 KiB L1d, 1 MiB L2 per core, 32 MiB L3): a 144 x 1024 A block is
// 576 KiB (L2), a 1024 x 3072 B panel 12 MiB (L3), a 1024 x 32 B sliver 128 KiB (L2, streamed to
// the tile with a software prefetch). KC = 1024 beat 512 (same-process A/B on a quiet machine, 2
// threads: square/1024 +4-7%, square/2048 +4%, 512x512x4608 +4%; 1 thread +3-7%): C is read and
// written back half as often, and two cores running at once slow each other down less (their
// shared L3 and memory traffic is mostly C's). KC 256, 320 and 384 lost 3-8%; MC 72..288 made no
// difference.
constexpr size_t kKC = 1024;
constexpr size_t kMC = 144;  // a multiple of every MR (12 and 6)
constexpr size_t kNC = 3072;
// A C of at most kNarrowPanelRows rows (one A block) reads each packed B block once, so a wide
// block buys no reuse; but its panel, 7 MiB per thread at 576 x 3072, is written and read back
// through L3, which it shares with the stream of B being packed (tens of MiB in a convolution's
// forward GEMM). Their column blocks are cut so that the panel holds at most
// kNarrowPanelFloats. Same-process A/B, 2 threads: 64 x 8192 x 576 (ResNet-20 stage 3 forward)
// 1.04-1.17x, 64 x 32768 x 576 1.04-1.16x, 128 x 8192 x 1152 1.04-1.09x, 32 x 32768 x 288
// 1.00-1.05x; AVX2 1.13-1.16x. Not for a short K (the panel is small, and the short-K order wants
// many slivers), nor for more rows: 256 x 2048 x 2304 (two A blocks) 0.96-1.04x, and square/1024
// and 2048 lost 1-2% with narrower blocks.
constexpr size_t kNarrowPanelRows = kMC;
constexpr size_t kNarrowPanelFloats = size_t{1} << 19;  // 2 MiB
// At most this deep a K block runs its tiles row of tiles outer (see compute_block). Same-process
// A/B, 2 threads: 144x131072x16 (ResNet-20 stage 1 backward data) 88 -> 235 GFLOP/s,
// 288x32768x32 1.6x, 576x32768x64 1.26x, 1152x8192x128 1.09x (1 thread alike; AVX2 1.49x on the
// first). K = 256 gained nothing and 2048x1024x256 may lose 1-2%, so 128. Only across at least
// kShortKSlivers slivers: attention's small GEMMs (128 x 64 x 128, 2 slivers) lost 3-7%, reading
// each B sliver from L1 fewer times in a row.
constexpr size_t kShortK = 128;
constexpr size_t kShortKSlivers = 16;
// A narrow C (N up to kDirectANarrow slivers: 512 columns with AVX-512) uses each packed A
// sliver only that many times, so packing A costs a noticeable share of the work: the tile then
// reads a non-transposed A in place, MR rows at once. Measured by best-of timings: Transformer
// d=128 projections +4%, attention PV +13%, d=256/512 projections and FFN-up +2-5%. Only when
// those rows spread over L1's sets (see rows_spread) and are less than kDirectAMaxLd apart (each
// row on its own page costs a TLB entry per row).
constexpr size_t kDirectANarrow = 16;
constexpr size_t kDirectAMaxLd = 4096;

// Whether MR rows lda floats apart fall in L1 sets (64 sets of 64-byte lines, 12 ways on Zen 5)
// at most MR/2 to a set, which leaves half the ways of the busiest set to B and C. lda = 512
// puts 6 of 12 rows in each of 2 sets (allowed: the rule before was lda <= 512); lda = 1024, a
// multiple of 4 KiB, puts all 12 in one set; lda = 576 (the patches of a 3x3 convolution over 64
// channels) spreads them over 12 sets, where reading in place beat packing (9216x128x576:
// measured below).
bool rows_spread(size_t lda, size_t MR) {
  size_t count[64] = {};
  for (size_t r = 0; r < MR; ++r) {
    if (2 * ++count[(r * lda * sizeof(float) / 64) % 64] > MR) return false;
  }
  return true;
}

// Below this many rows, B is read in place (when not transposed) instead of packed: packing
// costs a pass over B that only a few A slivers would amortize. Only when B's rows are close
// (ldb <= kDirectBMaxLd): the tile steps down one row of B per k, and rows a page or more apart
// would cost a TLB miss per k.
constexpr size_t kDirectBRows = 48;
constexpr size_t kDirectBMaxLd = 1024;
// Up to kDirectBAheadRows, B is read in place too by a tile that fetches B's rows ahead
// (GemmShape::b_ahead), when those rows spread over L1's sets (rows_spread): packing is a pass
// over B that the tiles do not make. Same-process A/B, AVX-512, 2 threads: 128^3 1.20x,
// 128 x 256 x 1024 1.12x, 96 x 768 x 768 1.08x, 256^3 1.09x, 256 x 768 x 768 1.05x (1 thread
// 1.00-1.03x). ldb = 1024 (4 KiB: all rows in one set) lost (192 x 1024 x 1024: 0.98x), and so
// did M = 2048 (2048 x 512 x 512: 0.97x), whose B slivers are read once per row of tiles. The
// AVX2 tile, without the fetches, lost 0.82-0.89x.
constexpr size_t kDirectBAheadRows = 256;

// Rows of a non-transposed B packed per claim when threads share the packing (gemm_blocked).
constexpr size_t kPackRows = 64;

size_t ceil_div(size_t a, size_t b) { return (a + b - 1) / b; }

// Workspace slots: each thread's packing buffers (2 per thread; split-K 4 per thread + 1), then
// the row split's progress counters. conv.cc's slots start at 4 * kMaxThreads + 8.
constexpr size_t kSlotProgress = 4 * ThreadPool::kMaxThreads + 4;

// Spins until `done()`, for the short waits between the tasks of one GEMM (a few microseconds
// when every task has a core). After a while it also yields the CPU: with more threads than free
// cores, the task waited for may be the one that is not running.
template <typename Done>
void wait_until(Done done) {
  for (unsigned spins = 1; !done(); ++spins) {
    cpu_relax();
    if ((spins & 4095) == 0) std::this_thread::yield();
  }
}

// The depth of the K blocks: the fewest blocks of at most kKC, made equal (rounded up to 16) so
// that no block is short. K = 576 as 512 + 64 ran the 64-deep block at a fraction of the rate: it
// reads and writes all of C, as a 512-deep one does, for an eighth of the FMAs. It depends on K
// only, so every thread count cuts K alike.
size_t k_block(size_t K) {
  if (K <= kKC) return std::max<size_t>(1, K);
  const size_t blocks = ceil_div(K, kKC);
  return std::min(kKC, ceil_div(ceil_div(K, blocks), 16) * 16);
}

// How one GEMM is cut into blocks, and the scratch it needs per worker.
struct Plan {
  size_t MR, NR, kc_max;
  size_t nc, nc_max;  // the width of a column block (kNC, or narrower: kNarrowPanelRows), and of the widest here
  bool direct_b;  // read op(B) in place instead of packing it
  bool direct_a;  // read A in place instead of packing it
  size_t a_floats() const { return kMC * kc_max; }
  size_t b_floats() const { return direct_b ? 0 : kc_max * ceil_div(nc_max, NR) * NR; }
};

// K blocks of whole runs for a gathered A (GemmDims::a_rows): the fewest of at most kKC (or one
// run, if longer), as equal as whole runs allow.
size_t k_block_runs(size_t K, size_t run) {
  const size_t runs = K / run, per = ceil_div(runs, std::max<size_t>(1, ceil_div(K, kKC)));
  return std::max<size_t>(1, per) * run;
}

Plan make_plan(const GemmKernel& kern, const GemmDims& d) {
  Plan p;
  p.MR = kern.shape.mr;
  p.NR = kern.shape.nr;
  p.kc_max = d.a_rows ? k_block_runs(d.K, d.a_run) : k_block(d.K);
  p.nc = d.M <= kNarrowPanelRows && p.kc_max > kShortK
             ? std::min(kNC, std::max(4 * p.NR, kNarrowPanelFloats / p.kc_max / p.NR * p.NR))
             : kNC;
  p.nc_max = std::min(p.nc, d.N);
  // Rows given by offsets (b_rows) are always read in place: they overlap, so packing would copy
  // each input value R*S times. A gathered A (a_rows) takes a packed B only (see GemmTile::a_off).
  const bool b_ahead_fits = d.M <= kDirectBAheadRows && kern.shape.b_ahead && rows_spread(d.ldb, kern.shape.b_ahead);
  p.direct_b = d.b_rows || d.b_packed ||
               (!d.a_rows && !d.trans_b && d.ldb <= kDirectBMaxLd && (d.M <= kDirectBRows || b_ahead_fits));
  p.direct_a = d.a_rows || (!d.trans_a && d.N <= kDirectANarrow * p.NR && d.lda <= kDirectAMaxLd && rows_spread(d.lda, p.MR));
  return p;
}

// The operands of a batch's next problem, fetched toward L2 a few lines after each tile of the
// current one. A batch larger than the cache (attention over 64+ heads: 8 MiB and more) otherwise
// starts every problem with its A, B and C coming from memory miss by miss. Fetched all at once
// before the problem, the misses would stall its first tiles instead.
constexpr double kTrickleBytes = 6.0 * 1024 * 1024;  // a whole batch's A, B and C (see gemm())
struct Trickle {
  struct Span {
    const char *next, *end;
    int write;  // C: fetched for writing
  };
  Span spans[3];
  size_t count = 0, per_tile = 0;
  void add(const float* p, size_t floats, int write) {
    if (floats > 0) spans[count++] = {reinterpret_cast<const char*>(p), reinterpret_cast<const char*>(p + floats), write};
  }
  void step() {
    size_t left = per_tile;
    for (size_t i = 0; i < count && left > 0; ++i) {
      Span& s = spans[i];
      for (; s.next < s.end && left > 0; s.next += 64, --left) {
        if (s.write) __builtin_prefetch(s.next, 1, 2);
        else __builtin_prefetch(s.next, 0, 2);
      }
    }
  }
};

// Runs tiles for rows [m0, m1) of C and B slivers [s0, s1) of the current (jc, pc) block.
// Rows are cut into tiles of nearly equal height (64 rows with MR = 12: 11,11,11,11,10,10 rather
// than 12,12,12,12,12,4): a short tile runs at a fraction of the FMA rate.
void compute_block(const GemmKernel& kern, const Plan& plan, float* apack, const float* bpack, float* c, const float* a,
                   const float* b, const GemmDims& d, size_t jc, size_t nc, size_t pc, size_t kc, size_t m0, size_t m1,
                   size_t s0, size_t s1, Trickle* trickle = nullptr) {
  const size_t MR = plan.MR, NR = plan.NR;
  const bool first = pc == 0, last = pc + kc >= d.K;
  for (size_t ic = m0; ic < m1; ic += kMC) {
    const size_t mc = std::min(kMC, m1 - ic);
    const size_t tiles = ceil_div(mc, MR), base = mc / tiles, extra = mc % tiles;
    auto tile_row = [&](size_t t) { return t * base + std::min(t, extra); };  // first row of tile t
    for (size_t t = 0; t < tiles && !plan.direct_a; ++t) {
      size_t i = ic + tile_row(t), rows = tile_row(t + 1) - tile_row(t);
      float* out = apack + t * MR * kc;
      kern.pack_a(out, a + (d.trans_a ? pc * d.lda + i : i * d.lda + pc), d.lda, d.trans_a, rows, kc);
    }
    // What every tile of this block shares, set once. The tiles of a short K are cheap enough
    // that filling the whole GemmTile per tile showed (144 x 131072 x 16: 0.90-0.93x), and so
    // did copying it per tile (2.5% of 2048 x 512 x 128 in perf): a GemmTile is set up once per
    // row (or column) of tiles, and each tile updates only what moves.
    GemmTile shared;
    shared.k = kc;
    shared.a_rs = !d.a_rows && plan.direct_a ? d.lda : 0;
    shared.b_rs = plan.direct_b && !d.b_packed ? d.ldb : NR;
    shared.b_off = d.b_rows ? d.b_rows + pc : nullptr;
    shared.ldc = d.ldc;
    shared.alpha = d.alpha;
    shared.beta = first ? d.beta : 1.0f;  // later K blocks add to what the first one stored
    shared.last = last;
    shared.act = d.epilogue.act;
    if (d.a_rows) shared.a_taps = d.a_taps + pc / d.a_run, shared.a_run = d.a_run;
    auto col = [&](size_t jj) { return d.b_taps ? d.b_taps[jj / d.b_run] + static_cast<long>(jj % d.b_run) : static_cast<long>(jj); };
    auto set_row = [&](GemmTile& t, size_t r) {  // returns C's row
      const size_t i = ic + tile_row(r);
      t.a = d.a_rows ? a : plan.direct_a ? a + i * d.lda + pc : apack + r * MR * kc;
      if (d.a_rows) t.a_off = d.a_rows + i;
      if (d.c_rows) t.c_off = d.c_rows + i;
      t.mr = tile_row(r + 1) - tile_row(r);
      t.bias_row = d.epilogue.bias_row ? d.epilogue.bias_row + i : nullptr;
      return i;
    };
    auto set_column = [&](GemmTile& t, size_t s) {  // returns C's column
      const size_t j = jc + s * NR;
      t.b = d.b_rows ? b + col(j) : d.b_packed ? b + j * d.K + pc * NR : plan.direct_b ? b + pc * d.ldb + j : bpack + s * NR * kc;
      if (d.b_taps) t.b_hi = j + NR / 2 < d.N ? col(j + NR / 2) - col(j) - static_cast<long>(NR / 2) : 0;  // halves of two taps
      t.nr = std::min(NR, jc + nc - j);
      t.bias_col = d.epilogue.bias_col ? d.epilogue.bias_col + j : nullptr;
      return j;
    };
    auto c_at = [&](size_t i, size_t j) { return d.c_rows ? c + j : c + i * d.ldc + j; };
    GemmTile t = shared;
    if (kc <= kShortK && s1 - s0 >= kShortKSlivers) {
      // A short K: writing C is most of the work. One row of tiles at a time, across all the
      // slivers, writes MR rows of C left to right (MR streams the prefetchers follow), where B
      // sliver outer would write to all mc rows at once. The B block is small (kc x nc), so
      // reading it again per row of tiles costs little.
      for (size_t r = 0; r < tiles; ++r) {
        const size_t i = set_row(t, r);
        for (size_t s = s0; s < s1; ++s) {
          t.c = c_at(i, set_column(t, s));
          kern.tile(t);
          if (trickle) trickle->step();
        }
      }
    } else {
      for (size_t s = s0; s < s1; ++s) {
        const size_t j = set_column(t, s);
        for (size_t r = 0; r < tiles; ++r) {
          t.c = c_at(set_row(t, r), j);
          kern.tile(t);
          if (trickle) trickle->step();
        }
      }
    }
  }
}

// The K blocks of one GEMM (of the plan's depth), and its (jc, pc) blocks: column blocks of plan.nc
// times K blocks.
size_t k_block_count(const Plan& plan, const GemmDims& d) {
  return std::max<size_t>(1, ceil_div(d.K, plan.kc_max));  // K == 0 still applies beta, bias, act
}
size_t block_count(const Plan& plan, const GemmDims& d) { return ceil_div(d.N, plan.nc) * k_block_count(plan, d); }

// How far the tasks that split rows are with each block (gemm_blocked).
struct Progress {
  std::atomic<size_t> next{0}, packed{0}, done{0};
};

// block_count(plan, d) fresh Progress counters in the workspace (call from the calling thread).
Progress* progress_counters(Workspace& ws, const Plan& plan, const GemmDims& d) {
  const size_t n = block_count(plan, d);
  // raw storage, the counters constructed in it (atomics are not plain data)
  void* mem = ws.array<unsigned char>(kSlotProgress, n * sizeof(Progress));
  if (!mem) return nullptr;
  Progress* p = static_cast<Progress*>(mem);
  for (size_t q = 0; q < n; ++q) new (p + q) Progress();
  return p;
}

// One GEMM over `tasks` workers. run(n, fn) runs fn(0..n-1), on the pool or inline. `ws_a[t]`
// and `ws_b[t]` are task t's packing buffers; when the threads split rows they share ws_b[0] and
// ws_b[1] (tasks > 1), or ws_b[0] alone (one task). `progress`: block_count(plan, d) fresh counters
// when tasks > 1 (from progress_counters), else unused. `trickle` (one task only): the next
// problem's operands, fetched along the way.
template <typename Run>
void gemm_blocked(Run run, size_t tasks, const GemmKernel& kern, const Plan& plan, float* const* ws_a,
                  float* const* ws_b, Progress* progress, float* c, const float* a, const float* b,
                  const GemmDims& d, Trickle* trickle = nullptr) {
  const size_t MR = plan.MR, NR = plan.NR;
  const size_t m_slivers = ceil_div(d.M, MR);
  const size_t k_blocks = k_block_count(plan, d);
  // Packs rows [k0, k1) of slivers [s0, s1) of the column block at jc (nc wide) for K block
  // (pc, kc) into `out`.
  auto pack_slivers = [&](float* out, size_t jc, size_t nc, size_t s0, size_t s1, size_t pc, size_t kc, size_t k0,
                          size_t k1) {
    if (plan.direct_b || s0 >= s1) return;
    const size_t j = jc + s0 * NR, p = pc + k0;
    kern.pack_b(out + s0 * NR * kc + k0 * NR, b + (d.trans_b ? j * d.ldb + p : p * d.ldb + j), d.ldb, d.trans_b,
                std::min(nc, s1 * NR) - s0 * NR, k1 - k0, kc);
  };

  // Split rows when there are plenty of A slivers and C is not much wider than tall; otherwise
  // split columns. Splitting columns, each thread owns a range of C's columns for the whole call:
  // it packs its own B and never waits for the other threads.
  // (One task takes the column path too: the whole of C, with no atomics to count slivers and
  // blocks, which a batch of small GEMMs, one per task, would pay for on every problem.)
  const bool split_m = m_slivers >= 4 * tasks && d.M >= d.N / 4;
  if (!split_m || tasks == 1) {
    const size_t per = ceil_div(ceil_div(d.N, NR), tasks) * NR;  // columns per task, whole slivers
    run(tasks, [&](size_t t) {
      const size_t c0 = std::min(d.N, t * per), c1 = std::min(d.N, (t + 1) * per);
      for (size_t jc = c0; jc < c1; jc += plan.nc) {
        const size_t nc = std::min(plan.nc, c1 - jc), n_slivers = ceil_div(nc, NR);
        for (size_t kb = 0; kb < k_blocks; ++kb) {
          const size_t pc = kb * plan.kc_max, kc = std::min(plan.kc_max, d.K - std::min(d.K, pc));
          pack_slivers(ws_b[t], jc, nc, 0, n_slivers, pc, kc, 0, kc);
          compute_block(kern, plan, ws_a[t], ws_b[t], c, a, b, d, jc, nc, pc, kc, 0, d.M, 0, n_slivers, trickle);
        }
      }
    });
    return;
  }
  // Rows: every task needs all of B, so the tasks pack each block of it together, then each
  // computes its share of the rows. One dispatch for the whole GEMM: the blocks (jc, pc) form a
  // pipeline over two B buffers. A task claims slivers of block q to pack, waits until all of
  // them are packed, computes its rows, and moves on to block q + 1, whose buffer it may fill
  // once every task is done with block q - 1 (the buffer's previous contents). A task that
  // finishes early so packs the next block while the others still compute, instead of waiting at
  // a barrier. (Claiming rows in shrinking chunks instead was slower when B outgrows L2, as for
  // the FFN: a chunk of a few tiles streams all of B from L3 again; same-process A/B 0.91-0.95x on
  // 2048 x 1024 x 256.) Every sliver a task waits for is claimed by a running task, and a task
  // waits for block q - 1 only from tasks that are all running (tasks == the pool's size), so the
  // waits end.
  const size_t blocks = block_count(plan, d);
  const size_t buffers = tasks > 1 ? 2 : 1;  // the callers give each task its own buffer
  run(tasks, [&](size_t t) {
    // Equal row counts, not whole slivers each: 1024 rows in 171 six-row slivers gave 516 and 508
    // (1.6% idle); compute_block cuts any row range into nearly equal tiles.
    const size_t m0 = t * d.M / tasks, m1 = (t + 1) * d.M / tasks;
    for (size_t q = 0; q < blocks; ++q) {
      const size_t jc = q / k_blocks * plan.nc, nc = std::min(plan.nc, d.N - jc), n_slivers = ceil_div(nc, NR);
      const size_t pc = q % k_blocks * plan.kc_max, kc = std::min(plan.kc_max, d.K - std::min(d.K, pc));
      float* buf = ws_b[q % buffers];
      Progress& pg = progress[q];
      if (q >= buffers) wait_until([&] { return progress[q - buffers].done.load(std::memory_order_acquire) >= tasks; });
      // The units the tasks claim: a transposed B one sliver at a time (NR source rows, each
      // contiguous in k); a B read by rows kPackRows rows at a time across all the slivers, so
      // that each unit reads whole rows of B. (Slivers one at a time read 128 bytes from each of
      // a thousand rows, pages apart: square/1024 on 2 threads spent 6% of its time packing B,
      // now 2.4%, in perf samples.)
      const size_t units = d.trans_b ? n_slivers : ceil_div(kc, kPackRows);
      for (size_t u; (u = pg.next.fetch_add(1, std::memory_order_relaxed)) < units;) {
        if (d.trans_b) pack_slivers(buf, jc, nc, u, u + 1, pc, kc, 0, kc);
        else pack_slivers(buf, jc, nc, 0, n_slivers, pc, kc, u * kPackRows, std::min(kc, (u + 1) * kPackRows));
        pg.packed.fetch_add(1, std::memory_order_release);
      }
      wait_until([&] { return pg.packed.load(std::memory_order_acquire) >= units; });
      if (m0 < m1) compute_block(kern, plan, ws_a[t], buf, c, a, b, d, jc, nc, pc, kc, m0, m1, 0, n_slivers);
      pg.done.fetch_add(1, std::memory_order_release);
    }
  });
}

// Small C, long K (a weight gradient: dW(K, CRS) = dY(K, NPQ) col^T, with NPQ in the hundred
// thousands): the output has too few tiles to share between threads. K is then cut into chunks of
// kSplitK; each chunk's product is computed whole by one thread into its own buffer, and the
// partial products are added in chunk order. The chunks depend on K only, never on the thread
// count, so the result does not either.
constexpr size_t kSplitK = 16384;
constexpr size_t kSplitMaxC = size_t{1} << 16;  // at most this many elements of C

bool use_split_k(const GemmDims& d) { return !d.b_rows && !d.a_rows && !d.b_packed && !d.c_rows && d.M * d.N <= kSplitMaxC && d.K >= 2 * kSplitK; }

struct Inline {
  template <typename Fn>
  void operator()(size_t n, Fn fn) const {
    for (size_t i = 0; i < n; ++i) fn(i);
  }
};

// C = act(alpha * sum of chunk products + beta C + bias), see use_split_k.
bool gemm_split_k(ThreadPool& pool, Workspace& ws, const GemmKernel& kern, float* c, const float* a, const float* b,
                  const GemmDims& d, const GemmBatch& batch) {
  const size_t threads = static_cast<size_t>(pool.size());
  const size_t chunks = ceil_div(d.K, kSplitK), mn = d.M * d.N;
  GemmDims part = d;  // one chunk: C_t(M, N) = op(A)[:, chunk] op(B)[chunk, :], nothing else
  part.K = kSplitK;
  part.ldc = d.N;
  part.alpha = 1.0f;
  part.beta = 0.0f;
  part.epilogue = GemmEpilogue{};
  const Plan plan = make_plan(kern, part);
  float *apack[ThreadPool::kMaxThreads], *bpack[ThreadPool::kMaxThreads], *partial[ThreadPool::kMaxThreads];
  for (size_t t = 0; t < threads; ++t) {
    apack[t] = ws.floats(4 * t, plan.a_floats());
    bpack[t] = plan.b_floats() ? ws.floats(4 * t + 1, plan.b_floats()) : nullptr;
    partial[t] = ws.floats(4 * t + 2, mn);
    if (!apack[t] || (plan.b_floats() && !bpack[t]) || !partial[t]) return false;
  }
  double* sum = reinterpret_cast<double*>(ws.floats(4 * threads + 3, 2 * mn));
  if (!sum) return false;

  for (size_t e = 0; e < batch.count; ++e) {
    const float *ae = a + e * batch.stride_a, *be = b + e * batch.stride_b;
    std::fill(sum, sum + mn, 0.0);
    // waves of one chunk per thread; each wave's partials are added in chunk order
    for (size_t first = 0; first < chunks; first += threads) {
      const size_t wave = std::min(threads, chunks - first);
      pool.run(wave, [&](size_t t) {
        const size_t p0 = (first + t) * kSplitK;
        GemmDims dt = part;
        dt.K = std::min(kSplitK, d.K - p0);
        gemm_blocked(Inline{}, 1, kern, plan, &apack[t], &bpack[t], nullptr, partial[t],
                     ae + (d.trans_a ? p0 * d.lda : p0), be + (d.trans_b ? p0 : p0 * d.ldb), dt);
      });
      for (size_t t = 0; t < wave; ++t)
        for (size_t i = 0; i < mn; ++i) sum[i] += partial[t][i];
    }
    float* ce = c + e * batch.stride_c;
    for (size_t i = 0; i < d.M; ++i) {
      for (size_t j = 0; j < d.N; ++j) {
        float& cij = ce[i * d.ldc + j];
        double v = static_cast<double>(d.alpha) * sum[i * d.N + j];
        if (d.beta != 0.0f) v += static_cast<double>(d.beta) * cij;
        if (d.epilogue.bias_row) v += d.epilogue.bias_row[i];
        if (d.epilogue.bias_col) v += d.epilogue.bias_col[j];
        cij = static_cast<float>(ref::act_f64(d.epilogue.act, v));
      }
    }
  }
  return true;
}

}  // namespace

bool gemm(ThreadPool& pool, Workspace& ws, const GemmKernel& kern, float* c, const float* a, const float* b,
          const GemmDims& d, const GemmBatch& batch) {
  if (d.M == 0 || d.N == 0 || batch.count == 0) return true;
  const size_t threads = static_cast<size_t>(pool.size());

  if (!kern.tile) {  // reference: rows split over the pool (each row is independent)
    for (size_t e = 0; e < batch.count; ++e) {
      float* ce = c + e * batch.stride_c;
      const float *ae = a + e * batch.stride_a, *be = b + e * batch.stride_b;
      size_t per = ceil_div(d.M, std::min(threads, d.M));
      pool.run(ceil_div(d.M, per), [&](size_t t) { ref::gemm_f32(ce, ae, be, d, t * per, std::min(d.M, (t + 1) * per)); });
    }
    return true;
  }

  if (use_split_k(d)) return gemm_split_k(pool, ws, kern, c, a, b, d, batch);

  const Plan plan = make_plan(kern, d);
  // Below this many FLOPs the whole call runs on the calling thread: waking the pool costs more
  // than a second core saves (square/64: 8.1 us on two threads). The tiles are the same either
  // way, so the bits are too.
  constexpr double kInlineFlops = 1 << 20;
  if (threads > 1 && 2.0 * static_cast<double>(d.M) * d.N * d.K * batch.count < kInlineFlops) {
    float* apack = ws.floats(0, plan.a_floats());
    float* bpack = plan.b_floats() ? ws.floats(1, plan.b_floats()) : nullptr;
    if (!apack || (plan.b_floats() && !bpack)) return false;
    for (size_t e = 0; e < batch.count; ++e)
      gemm_blocked(Inline{}, 1, kern, plan, &apack, &bpack, nullptr, c + e * batch.stride_c, a + e * batch.stride_a,
                   b + e * batch.stride_b, d);
    return true;
  }
  // Many small problems: one whole GEMM per task, each with its own scratch. Otherwise the
  // threads share each GEMM.
  const bool per_problem = batch.count >= threads && threads > 1;
  float *apacks[ThreadPool::kMaxThreads], *bpacks[ThreadPool::kMaxThreads];
  for (size_t t = 0; t < threads; ++t) {
    if (!(apacks[t] = ws.floats(2 * t, plan.a_floats()))) return false;
  }
  for (size_t t = 0; t < threads; ++t) {
    bpacks[t] = plan.b_floats() ? ws.floats(2 * t + 1, plan.b_floats()) : nullptr;
    if (plan.b_floats() && !bpacks[t]) return false;
  }

  // Problem e + 1's operands (what of them problem e does not share), and how many lines to
  // fetch after each of problem e's tiles.
  auto span = [](size_t rows, size_t cols, size_t ld) { return rows == 0 ? 0 : (rows - 1) * ld + cols; };  // stored floats
  const size_t a_floats = d.trans_a ? span(d.K, d.M, d.lda) : span(d.M, d.K, d.lda);
  const size_t b_floats = d.b_packed ? 0 : d.trans_b ? span(d.N, d.K, d.ldb) : span(d.K, d.N, d.ldb);
  const size_t c_floats = span(d.M, d.N, d.ldc);
  const size_t lines = ((batch.stride_a ? a_floats : 0) + (batch.stride_b ? b_floats : 0) + c_floats) / 16 + 3;
  const size_t tiles = ceil_div(d.M, plan.MR) * ceil_div(d.N, plan.NR) * k_block_count(plan, d);
  // Only when each thread's share of the batch outgrows the caches. Measured one build against
  // the other, fastest of 1.5 s: 128 x 128 x 64 transB (attention QK^T) and 128 x 64 x 128 (PV),
  // batch 64, 1 thread 1.32-1.39x; batch 128, 1 thread 1.22-1.37x, 2 threads 1.20-1.50x. A share
  // that fits (batch 64 on 2 threads, batch 32) gained nothing and lost 4-9% (the fetches cost
  // instructions; 12 x 32 x 32 problems have one tile each).
  const bool trickle = 4.0 * static_cast<double>(lines) * 16 * batch.count / static_cast<double>(threads) >= kTrickleBytes;
  // Problems [e0, e1) one after the other on the calling task, with task t's scratch; each
  // fetches the next one's operands when the batch is that large.
  auto run_problems = [&](size_t t, size_t e0, size_t e1) {
    for (size_t e = e0; e < e1; ++e) {
      Trickle tr;
      const bool ahead = trickle && e + 1 < e1;
      if (ahead) {
        tr.per_tile = ceil_div(lines, tiles);
        if (batch.stride_a) tr.add(a + (e + 1) * batch.stride_a, a_floats, 0);
        if (batch.stride_b) tr.add(b + (e + 1) * batch.stride_b, b_floats, 0);
        tr.add(c + (e + 1) * batch.stride_c, c_floats, 1);
      }
      gemm_blocked(Inline{}, 1, kern, plan, &apacks[t], &bpacks[t], nullptr, c + e * batch.stride_c,
                   a + e * batch.stride_a, b + e * batch.stride_b, d, ahead ? &tr : nullptr);
    }
  };
  if (per_problem) {
    size_t per = ceil_div(batch.count, threads);
    pool.run(threads, [&](size_t t) { run_problems(t, t * per, std::min(batch.count, (t + 1) * per)); });
  } else if (threads == 1) {
    run_problems(0, 0, batch.count);
  } else {
    auto on_pool = [&](size_t n, const auto& fn) { pool.run(n, fn); };
    for (size_t e = 0; e < batch.count; ++e) {
      Progress* progress = progress_counters(ws, plan, d);  // fresh for each problem
      if (!progress) return false;
      gemm_blocked(on_pool, threads, kern, plan, apacks, bpacks, progress, c + e * batch.stride_c,
                   a + e * batch.stride_a, b + e * batch.stride_b, d);
    }
  }
  return true;
}

GemmScratch gemm_scratch(const GemmKernel& kernel, const GemmDims& d) {
  if (!kernel.tile) return {0, 0};
  const Plan plan = make_plan(kernel, d);
  return {plan.a_floats(), plan.b_floats()};
}

bool gemm_splits_k(const GemmDims& d) { return use_split_k(d); }

void gemm_serial(const GemmKernel& kernel, float* apack, float* bpack, float* c, const float* a, const float* b,
                 const GemmDims& d) {
  if (d.M == 0 || d.N == 0) return;
  if (!kernel.tile) {
    ref::gemm_f32(c, a, b, d, 0, d.M);
    return;
  }
  gemm_blocked(Inline{}, 1, kernel, make_plan(kernel, d), &apack, &bpack, nullptr, c, a, b, d);
}

size_t gemm_packed_b_floats(const GemmKernel& kernel, size_t n, size_t k) {
  if (!kernel.tile) return n * k;
  const size_t nr = kernel.shape.nr;
  return ceil_div(n, nr) * nr * k;
}

void gemm_pack_b_panel(const GemmKernel& kernel, float* out, const float* b, size_t ldb, bool trans_b, size_t n, size_t k) {
  if (n == 0 || k == 0) return;
  if (!kernel.tile) {  // op(B) row-major: out[p * n + j] = op(B)[p, j]
    for (size_t p = 0; p < k; ++p)
      for (size_t j = 0; j < n; ++j) out[p * n + j] = trans_b ? b[j * ldb + p] : b[p * ldb + j];
    return;
  }
  kernel.pack_b(out, b, ldb, trans_b, n, k, k);
}

}  // namespace kiln
