// gemm(c, a, b, params): C = act(alpha op(A) op(B) + beta C + bias), row-major, optionally
// batched with strides. params (unknown keys are rejected, so a typo never passes silently):
//   m, n, k            sizes (0 allowed: m or n = 0 is a no-op; k = 0 leaves beta C + bias)
//   transA, transB     false: A is (m, lda), B is (k, ldb); true: A is (k, lda), B is (n, ldb)
//   lda, ldb, ldc      row strides; default the stored row length
//   alpha, beta        default 1 and 0; beta = 0 never reads C
//   bias, biasAxis     a Float32Array of m ('row') or n ('col', the default) values
//   act                'none' (default), 'relu' or 'gelu'
//   batch, strideA, strideB, strideC   batch problems at these float offsets (A/B strides may be 0)
//   packedB            b is a panel from gemmPackB for this n and k (transB, ldb and strideB are
//                      then the panel's business: not allowed; a batch shares it)
//
// gemmPackB(b, params) -> Float32Array: op(B) packed once in the active GEMM kernel's layout, for
// a B that many GEMMs share (a layer's weight during inference): those GEMMs skip packing it.
//   n, k, transB, ldb  as gemm's
// The panel starts with a header (kPackedHeader floats) naming the kernel's ISA and the sizes;
// gemm checks it, so a panel packed before setIsa() or for other sizes is refused, not misread.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "addon.h"
#include "args.h"
#include "params.h"
#include "../runtime/gemm.h"

namespace kiln {
namespace {

// The number of floats a strided (rows x cols) matrix repeated `count` times at `stride` spans.
size_t extent(const Args& args, size_t count, size_t stride, size_t rows, size_t cols, size_t ld, const char* what) {
  if (count == 0 || rows == 0 || cols == 0) return 0;
  size_t last = args.mul(count - 1, stride, what);
  size_t inner = args.mul(rows - 1, ld, what);
  size_t total = last + inner;
  if (total < last || total + cols < total) args.range_error(std::string(what) + " overflows");
  return total + cols;
}

// The header of a packed B panel: what gemm checks before it reads the panel as one.
constexpr size_t kPackedHeader = 16;  // floats: keeps the panel 64 bytes from the array's start
constexpr uint32_t kPackedMagic = 0x4B504B42, kPackedVersion = 1;
struct PackedHeader {
  uint32_t magic, version, isa, nr;
  uint64_t k, n;
};
static_assert(sizeof(PackedHeader) <= kPackedHeader * sizeof(float), "the header fits its floats");

// Checks that `b` is a panel packed by the active kernel for (n, k) and returns its data.
const float* packed_panel(const Args& args, const KilnAddon& addon, const Napi::Float32Array& b, size_t n, size_t k) {
  const GemmKernel& kern = addon.table.gemm.fn;
  PackedHeader h{};
  if (b.ElementLength() >= kPackedHeader) std::memcpy(&h, b.Data(), sizeof h);
  if (b.ElementLength() < kPackedHeader || h.magic != kPackedMagic || h.version != kPackedVersion) {
    args.range_error("b expected a panel from gemmPackB (params.packedB), got a Float32Array of length " +
                     std::to_string(b.ElementLength()) + " without its header");
  }
  const Isa isa = addon.table.gemm.isa;
  if (h.isa != static_cast<uint32_t>(isa) || h.nr != (kern.tile ? kern.shape.nr : 0)) {
    args.range_error("b was packed for another GEMM kernel than the active one (" + std::string(isa_name(isa)) +
                     "): pack it again with gemmPackB after setIsa()");
  }
  if (h.n != n || h.k != k) {
    args.range_error("b was packed for n=" + std::to_string(h.n) + " k=" + std::to_string(h.k) + ", the call has n=" +
                     std::to_string(n) + " k=" + std::to_string(k));
  }
  args.expect_length("b", b, kPackedHeader + gemm_packed_b_floats(kern, n, k), "the header + the packed panel");
  return b.Data() + kPackedHeader;
}

// What a gemm call asks for, with its defaults applied: from the params object (gemm) or from
// the array of fields that src/native/gemm-fields.ts fills for the same object (gemmFields).
struct GemmRequest {
  static constexpr size_t kDefault = ~size_t{0};  // lda, ldb, ldc and the strides: the stored layout
  size_t m = 0, n = 0, k = 0;
  bool trans_a = false, trans_b = false, packed = false;
  size_t lda = kDefault, ldb = kDefault, ldc = kDefault;
  float alpha = 1.0f, beta = 0.0f;
  Act act = Act::none;
  size_t batch = 1, stride_a = kDefault, stride_b = kDefault, stride_c = kDefault;
  Napi::Float32Array bias;  // empty: none
  bool bias_row = false;
};

// Checks the request against the buffers (leading dimensions, extents, overlaps, a packed
// panel's header) and runs it: the same checks and messages whichever way it was given.
Napi::Value run_gemm(const Napi::CallbackInfo& info, const Args& args, Napi::Float32Array c,
                     const Napi::Float32Array& a, const Napi::Float32Array& b, const GemmRequest& r) {
  constexpr size_t kDefault = GemmRequest::kDefault;
  GemmDims d;
  d.M = r.m;
  d.N = r.n;
  d.K = r.k;
  d.trans_a = r.trans_a;
  d.trans_b = r.trans_b;
  // stored shapes: A is (M, K) or (K, M); B is (K, N) or (N, K)
  const size_t a_rows = d.trans_a ? d.K : d.M, a_cols = d.trans_a ? d.M : d.K;
  const size_t b_rows = d.trans_b ? d.N : d.K, b_cols = d.trans_b ? d.K : d.N;
  d.lda = r.lda == kDefault ? a_cols : r.lda;
  d.ldb = r.ldb == kDefault ? b_cols : r.ldb;
  d.ldc = r.ldc == kDefault ? d.N : r.ldc;
  if (d.lda < a_cols) args.range_error("params.lda expected >= " + std::to_string(a_cols) + (d.trans_a ? " (m, A is transposed)" : " (k)") + ", got " + std::to_string(d.lda));
  if (d.ldb < b_cols) args.range_error("params.ldb expected >= " + std::to_string(b_cols) + (d.trans_b ? " (k, B is transposed)" : " (n)") + ", got " + std::to_string(d.ldb));
  if (d.ldc < d.N) args.range_error("params.ldc expected >= " + std::to_string(d.N) + " (n), got " + std::to_string(d.ldc));
  d.alpha = r.alpha;
  d.beta = r.beta;
  d.epilogue.act = r.act;

  GemmBatch batch;
  batch.count = r.batch;
  const size_t c_span = extent(args, 1, 0, d.M, d.N, d.ldc, "m*ldc");
  batch.stride_a = r.stride_a == kDefault ? extent(args, 1, 0, a_rows, a_cols, d.lda, "A size") : r.stride_a;
  batch.stride_b = r.stride_b == kDefault ? extent(args, 1, 0, b_rows, b_cols, d.ldb, "B size") : r.stride_b;
  batch.stride_c = r.stride_c == kDefault ? c_span : r.stride_c;
  if (batch.count > 1 && batch.stride_c < c_span) {
    args.range_error("params.strideC expected >= " + std::to_string(c_span) + " ((m-1)*ldc+n: batch outputs may not overlap), got " + std::to_string(batch.stride_c));
  }
  const bool work = d.M > 0 && d.N > 0 && batch.count > 0;
  const size_t need_a = work ? extent(args, batch.count, batch.stride_a, a_rows, a_cols, d.lda, "A extent") : 0;
  if (r.packed) batch.stride_b = 0;
  const size_t need_b = work && !r.packed ? extent(args, batch.count, batch.stride_b, b_rows, b_cols, d.ldb, "B extent") : 0;
  const size_t need_c = work ? extent(args, batch.count, batch.stride_c, d.M, d.N, d.ldc, "C extent") : 0;
  args.expect_at_least("c", c, need_c, "(batch-1)*strideC + (m-1)*ldc + n");
  args.expect_at_least("a", a, need_a, d.trans_a ? "(batch-1)*strideA + (k-1)*lda + m" : "(batch-1)*strideA + (m-1)*lda + k");
  args.expect_at_least("b", b, need_b, d.trans_b ? "(batch-1)*strideB + (n-1)*ldb + k" : "(batch-1)*strideB + (k-1)*ldb + n");

  if (!r.bias.IsEmpty()) {
    Napi::Float32Array bias = r.bias;
    args.expect_length("params.bias", bias, r.bias_row ? d.M : d.N, r.bias_row ? "m, biasAxis 'row'" : "n, biasAxis 'col'");
    (r.bias_row ? d.epilogue.bias_row : d.epilogue.bias_col) = bias.Data();
    args.disjoint("c", c, "params.bias", bias);
  }
  args.disjoint("c", c, "a", a);
  args.disjoint("c", c, "b", b);

  KilnAddon& k = KilnAddon::of(info);
  const float* b_data = b.Data();
  if (r.packed) {
    b_data = packed_panel(args, k, b, d.N, d.K);
    if (k.table.gemm.fn.tile) d.b_packed = true;  // slivers: GemmDims::b_packed
    else d.ldb = d.N;                               // ref: op(B) row-major, as a plain B
  }
  if (!gemm(k.pool, k.workspace, k.table.gemm.fn, c.Data(), a.Data(), b_data, d, batch)) {
    throw Napi::Error::New(info.Env(), "gemm: out of memory for the packing workspace");
  }
  return info.Env().Undefined();
}

Napi::Value Gemm(const Napi::CallbackInfo& info) {
  Args args(info, "gemm", 4);
  auto c = args.f32(0, "c"), a = args.f32(1, "a"), b = args.f32(2, "b");
  Params p(args, info[3], {"m", "n", "k", "transA", "transB", "lda", "ldb", "ldc", "alpha", "beta", "bias",
                          "biasAxis", "act", "batch", "strideA", "strideB", "strideC", "packedB"});
  for (const char* key : {"m", "n", "k"}) {
    if (!p.has(key)) args.type_error(std::string("params.") + key + " expected a non-negative integer, got undefined");
  }
  GemmRequest r;
  constexpr size_t kDefault = GemmRequest::kDefault;
  r.m = p.size("m", 0);
  r.n = p.size("n", 0);
  r.k = p.size("k", 0);
  r.trans_a = p.flag("transA");
  r.packed = p.flag("packedB");
  for (const char* key : {"transB", "ldb", "strideB"}) {
    if (r.packed && p.has(key)) args.range_error(std::string("params.") + key + " is not allowed with params.packedB (the panel has its layout; a batch shares it)");
  }
  r.trans_b = p.flag("transB");
  r.lda = p.size("lda", kDefault);
  r.ldb = p.size("ldb", kDefault);
  r.ldc = p.size("ldc", kDefault);
  r.alpha = p.number("alpha", 1.0f);
  r.beta = p.number("beta", 0.0f);
  std::string act = p.choice("act", {"none", "relu", "gelu"});
  r.act = act == "relu" ? Act::relu : act == "gelu" ? Act::gelu : Act::none;
  r.batch = p.size("batch", 1);
  r.stride_a = p.size("strideA", kDefault);
  r.stride_b = p.size("strideB", kDefault);
  r.stride_c = p.size("strideC", kDefault);
  if (p.has("bias")) {
    r.bias = args.f32_value(p.get("bias"), "params.bias");
    r.bias_row = p.choice("biasAxis", {"col", "row"}) == "row";
  } else if (p.has("biasAxis")) {
    args.range_error("params.biasAxis given without params.bias");
  }
  return run_gemm(info, args, c, a, b, r);
}

// gemmFields(c, a, b, fields, bias): gemm with its params already read into a Float64Array by
// src/native/gemm-fields.ts (the order is GemmField's), which sends every call it cannot read
// that way (an unknown key, a value of another type, ...) to gemm itself, for its messages. Reading
// a params object through Node-API costs ~1.5 us, more than a small GEMM's arithmetic. Every
// field is checked again here: a size must be a non-negative integer, alpha and beta finite.
enum GemmField { kM, kN, kK, kTransA, kTransB, kLda, kLdb, kLdc, kAlpha, kBeta, kAct, kBatch, kStrideA, kStrideB, kStrideC, kPackedB, kBiasRow, kFields };

Napi::Value GemmFields(const Napi::CallbackInfo& info) {
  Args args(info, "gemm", 5);  // named gemm: its errors are gemm's (a buffer too short, ...)
  auto c = args.f32(0, "c"), a = args.f32(1, "a"), b = args.f32(2, "b");
  if (!info[3].IsTypedArray() || info[3].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array ||
      info[3].As<Napi::TypedArray>().ElementLength() != kFields) {
    args.type_error("fields expected a Float64Array(" + std::to_string(kFields) + "), got " + describe(info[3]));
  }
  const double* f = info[3].As<Napi::Float64Array>().Data();
  // -1: the field's default (the stored layout)
  auto size_or_default = [&](GemmField i, const char* name) { return f[i] == -1 ? GemmRequest::kDefault : args.size_number(f[i], name); };
  GemmRequest r;
  r.m = args.size_number(f[kM], "params.m");
  r.n = args.size_number(f[kN], "params.n");
  r.k = args.size_number(f[kK], "params.k");
  r.trans_a = f[kTransA] != 0;
  r.trans_b = f[kTransB] != 0;
  r.packed = f[kPackedB] != 0;
  r.lda = size_or_default(kLda, "params.lda");
  r.ldb = size_or_default(kLdb, "params.ldb");
  r.ldc = size_or_default(kLdc, "params.ldc");
  r.alpha = args.finite_float_number(f[kAlpha], "params.alpha");
  r.beta = args.finite_float_number(f[kBeta], "params.beta");
  if (f[kAct] != 0 && f[kAct] != 1 && f[kAct] != 2) args.range_error("fields: act expected 0, 1 or 2");
  r.act = f[kAct] == 1 ? Act::relu : f[kAct] == 2 ? Act::gelu : Act::none;
  r.batch = args.size_number(f[kBatch], "params.batch");
  r.stride_a = size_or_default(kStrideA, "params.strideA");
  r.stride_b = size_or_default(kStrideB, "params.strideB");
  r.stride_c = size_or_default(kStrideC, "params.strideC");
  if (r.packed && (r.trans_b || r.ldb != GemmRequest::kDefault || r.stride_b != GemmRequest::kDefault)) {
    args.range_error("fields: transB, ldb and strideB are not allowed with packedB");
  }
  r.bias = args.f32_or_null(4, "params.bias");
  r.bias_row = f[kBiasRow] != 0;
  return run_gemm(info, args, c, a, b, r);
}

Napi::Value GemmPackB(const Napi::CallbackInfo& info) {
  Args args(info, "gemmPackB", 2);
  auto b = args.f32(0, "b");
  Params p(args, info[1], {"n", "k", "transB", "ldb"});
  const size_t n = p.required_size("n"), k = p.required_size("k");
  const bool trans_b = p.flag("transB");
  const size_t b_rows = trans_b ? n : k, b_cols = trans_b ? k : n;
  const size_t ldb = p.size("ldb", b_cols);
  if (ldb < b_cols) args.range_error("params.ldb expected >= " + std::to_string(b_cols) + (trans_b ? " (k, B is transposed)" : " (n)") + ", got " + std::to_string(ldb));
  args.expect_at_least("b", b, extent(args, 1, 0, b_rows, b_cols, ldb, "B size"), trans_b ? "(n-1)*ldb + k" : "(k-1)*ldb + n");

  KilnAddon& addon = KilnAddon::of(info);
  const GemmKernel& kern = addon.table.gemm.fn;
  args.mul(n, k, "n*k");  // throws when the panel's size overflows
  const size_t floats = kPackedHeader + gemm_packed_b_floats(kern, n, k);
  auto out = Napi::Float32Array::New(info.Env(), floats);
  const PackedHeader h{kPackedMagic, kPackedVersion, static_cast<uint32_t>(addon.table.gemm.isa),
                       static_cast<uint32_t>(kern.tile ? kern.shape.nr : 0), k, n};
  std::memset(out.Data(), 0, kPackedHeader * sizeof(float));
  std::memcpy(out.Data(), &h, sizeof h);
  gemm_pack_b_panel(kern, out.Data() + kPackedHeader, b.Data(), ldb, trans_b, n, k);
  return out;
}

// fmaPeak(isa, iterations) -> flops: runs the FMA peak probe of `isa` ('avx2' or 'avx512') on
// every thread of the pool at once and returns the floating-point operations done; the caller
// times the call. The benchmarks quote GEMM speeds as a fraction of this.
Napi::Value FmaPeak(const Napi::CallbackInfo& info) {
  Args args(info, "fmaPeak", 2);
  if (!info[0].IsString()) args.type_error("isa expected 'avx2' or 'avx512', got " + describe(info[0]));
  std::string name = info[0].As<Napi::String>().Utf8Value();
  size_t iters = args.size(1, "iterations");
  double (*probe)(size_t) = nullptr;
  size_t lanes = 0;
#if defined(KILN_X86_ISA_LIBS)
  const CpuFeatures& cpu = cpu_features();
  if (name == "avx512" && cpu_supports(cpu, Isa::avx512)) probe = &avx512::fma_peak_f32, lanes = 16;
  if (name == "avx2" && cpu_supports(cpu, Isa::avx2)) probe = &avx2::fma_peak_f32, lanes = 8;
#endif
  if (!probe) args.range_error("isa expected 'avx2' or 'avx512' supported by this CPU, got '" + name + "'");
  KilnAddon& k = KilnAddon::of(info);
  const size_t threads = static_cast<size_t>(k.pool.size());
  std::vector<double> sink(threads);
  k.pool.run(threads, [&](size_t t) { sink[t] = probe(iters); });
  double flops = 2.0 * 12 * lanes * static_cast<double>(iters) * threads;
  return Napi::Number::New(info.Env(), sink[0] == -1.0 ? 0.0 : flops);  // sink read: keeps the probe alive
}

}  // namespace

void init_gemm(Napi::Env env, Napi::Object exports) {
  exports.Set("gemm", Napi::Function::New(env, Gemm, "gemm"));
  exports.Set("gemmFields", Napi::Function::New(env, GemmFields, "gemmFields"));
  exports.Set("gemmPackB", Napi::Function::New(env, GemmPackB, "gemmPackB"));
  exports.Set("fmaPeak", Napi::Function::New(env, FmaPeak, "fmaPeak"));
}

}  // namespace kiln
