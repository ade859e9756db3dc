// A self-test of the kernel table without Node: every op at the levels this CPU runs, against
// plain loops, with 1 and 3 threads. It exists for CPUs where Node cannot run here: CI cross-
// compiles it for arm64 and runs it under qemu-aarch64 (tools/arm64-check.sh), which proves the
// portable path builds and computes correctly there. Prints `N passed, N failed`.
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "../dispatch/cpu.h"
#include "../dispatch/table.h"
#include "../runtime/gemm.h"
#include "../runtime/parallel.h"

using namespace kiln;

namespace {

int passed = 0, failed = 0;

void expect(bool ok, const char* isa, const char* what, size_t n) {
  if (ok) {
    ++passed;
  } else {
    ++failed;
    std::printf("FAIL %s %s n=%zu\n", isa, what, n);
  }
}

bool close(double got, double want, double tol) { return std::fabs(got - want) <= tol; }

std::vector<float> random(size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}

void check_level(Isa isa, ThreadPool& pool) {
  const KernelTable t = make_kernel_table(isa);
  const char* name = isa_name(isa);
  for (size_t n : {size_t{0}, size_t{1}, size_t{15}, size_t{16}, size_t{17}, size_t{33}, size_t{100003}}) {
    std::vector<float> a = random(n, 1), b = random(n, 2), y(n), want(n);
    parallel_range(pool, n, kMapGrain, 16, [&](size_t s, size_t e) { t.add.fn(y.data() + s, a.data() + s, b.data() + s, e - s); });
    bool ok = true;
    for (size_t i = 0; i < n; ++i) ok = ok && y[i] == a[i] + b[i];
    expect(ok, name, "add", n);

    std::vector<float> z = b;
    t.axpy.fn(z.data(), 0.5f, a.data(), n);
    ok = true;
    for (size_t i = 0; i < n; ++i) ok = ok && close(z[i], b[i] + 0.5 * a[i], 1e-6);
    expect(ok, name, "axpy", n);

    t.relu_forward.fn(y.data(), a.data(), n);
    ok = true;
    for (size_t i = 0; i < n; ++i) ok = ok && y[i] == (a[i] < 0 ? 0.0f : a[i]);
    expect(ok, name, "reluForward", n);

    double s = parallel_sum(pool, n, [&](size_t s0, size_t e0) { return t.sum.fn(a.data() + s0, e0 - s0); });
    double ws = 0, wq = 0;
    for (float v : a) ws += v, wq += static_cast<double>(v) * v;
    expect(close(s, ws, 1e-9 * (1 + n)), name, "sum", n);
    double q = parallel_sum(pool, n, [&](size_t s0, size_t e0) { return t.sumsq.fn(a.data() + s0, e0 - s0); });
    expect(close(q, wq, 1e-6 * (1 + wq)), name, "sumsq", n);

    // a first SGD step (Nesterov, weight decay) and a first AdamW step, against their formulas
    std::vector<float> p = a, v(n), m(n), v2(n), pa = a;
    SgdStep sgd;
    sgd.lr = 0.1, sgd.momentum = 0.9, sgd.weight_decay = 0.01, sgd.nesterov = true, sgd.first = true;
    t.sgd_step.fn(p.data(), v.data(), b.data(), sgd, n);
    ok = true;
    for (size_t i = 0; i < n; ++i) {
      double g = b[i] + 0.01 * a[i];
      ok = ok && close(v[i], g, 1e-6) && close(p[i], a[i] - 0.1 * (g + 0.9 * g), 1e-6);
    }
    expect(ok, name, "sgdStep", n);
    AdamStep adam;
    adam.lr = 0.01, adam.weight_decay = 0.1, adam.decoupled = true;
    adam_step_constants(adam, 1);
    t.adam_step.fn(pa.data(), m.data(), v2.data(), b.data(), adam, n);
    ok = true;  // step 1: the bias-corrected moments are g and g^2
    for (size_t i = 0; i < n; ++i) ok = ok && close(pa[i], a[i] * (1 - 0.001) - 0.01 * b[i] / (std::fabs(b[i]) + 1e-8), 1e-6);
    expect(ok, name, "adamStep", n);
  }

  Workspace ws;
  for (size_t m : {1, 17, 50}) {
    for (bool ta : {false, true}) {
      for (bool tb : {false, true}) {
        const size_t n = 37, k = 300;
        std::vector<float> a = random(m * k, 3), b = random(k * n, 4), c(m * n), bias = random(n, 5);
        GemmDims d;
        d.M = m, d.N = n, d.K = k, d.trans_a = ta, d.trans_b = tb;
        d.lda = ta ? m : k, d.ldb = tb ? k : n, d.ldc = n;
        d.epilogue.bias_col = bias.data();
        d.epilogue.act = Act::relu;
        gemm(pool, ws, t.gemm.fn, c.data(), a.data(), b.data(), d, GemmBatch{});
        bool ok = true;
        for (size_t i = 0; i < m; ++i) {
          for (size_t j = 0; j < n; ++j) {
            double acc = bias[j];
            for (size_t p = 0; p < k; ++p) acc += static_cast<double>(ta ? a[p * m + i] : a[i * k + p]) * (tb ? b[j * k + p] : b[p * n + j]);
            ok = ok && close(c[i * n + j], acc < 0 ? 0 : acc, 1e-4);
          }
        }
        expect(ok, name, "gemm", m);
      }
    }
  }
}

}  // namespace

int main() {
  const CpuFeatures& cpu = cpu_features();
  std::printf("cpu: x86_64=%d best=%s\n", cpu.x86_64, isa_name(best_isa(cpu)));
  for (int threads : {1, 3}) {
    ThreadPool pool(threads);
    for (Isa isa : {Isa::ref, Isa::avx2, Isa::avx512}) {
      if (cpu_supports(cpu, isa)) check_level(isa, pool);
    }
  }
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
