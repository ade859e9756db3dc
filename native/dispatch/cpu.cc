// CPU feature detection. Compiled with baseline flags: no instruction here may need more than
// the x86-64 (or arm64) baseline, since this is what decides whether the wider code may run.
#include "cpu.h"

namespace kiln {

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::avx512: return "avx512";
    case Isa::avx2: return "avx2";
    case Isa::ref: break;
  }
  return "ref";
}

bool parse_isa(const std::string& name, Isa* out) {
  if (name == "ref") *out = Isa::ref;
  else if (name == "avx2") *out = Isa::avx2;
  else if (name == "avx512") *out = Isa::avx512;
  else return false;
  return true;
}

namespace {

CpuFeatures detect() {
  CpuFeatures f;
#if defined(__x86_64__) || defined(_M_X64)
  f.x86_64 = true;
  __builtin_cpu_init();
  f.x86_64_v3 = __builtin_cpu_supports("x86-64-v3");
  f.x86_64_v4 = __builtin_cpu_supports("x86-64-v4");
  f.avx = __builtin_cpu_supports("avx");
  f.avx2 = __builtin_cpu_supports("avx2");
  f.fma = __builtin_cpu_supports("fma");
  f.f16c = __builtin_cpu_supports("f16c");
  f.bmi2 = __builtin_cpu_supports("bmi2");
  f.avx512f = __builtin_cpu_supports("avx512f");
  f.avx512bw = __builtin_cpu_supports("avx512bw");
  f.avx512cd = __builtin_cpu_supports("avx512cd");
  f.avx512dq = __builtin_cpu_supports("avx512dq");
  f.avx512vl = __builtin_cpu_supports("avx512vl");
  f.avx512vnni = __builtin_cpu_supports("avx512vnni");
  f.avx512bf16 = __builtin_cpu_supports("avx512bf16");
#endif
  return f;
}

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect();  // thread-safe static init (C++11)
  return features;
}

bool cpu_supports(const CpuFeatures& c, Isa isa) {
  switch (isa) {
    case Isa::ref: return true;
    case Isa::avx2: return c.x86_64_v3;
    case Isa::avx512: return c.x86_64_v3 && c.x86_64_v4;
  }
  return false;
}

Isa best_isa(const CpuFeatures& c) {
  if (cpu_supports(c, Isa::avx512)) return Isa::avx512;
  if (cpu_supports(c, Isa::avx2)) return Isa::avx2;
  return Isa::ref;
}

}  // namespace kiln
