// What the CPU can run, and the ISA levels Kiln has kernels for.
#pragma once

#include <string>

namespace kiln {

// Ordered from the most portable to the fastest; a kernel of level L runs on any CPU that
// supports L. `ref` is plain C++ and runs everywhere (arm64 included).
enum class Isa { ref = 0, avx2 = 1, avx512 = 2 };

const char* isa_name(Isa isa);
// Parses "ref" | "avx2" | "avx512"; returns false for anything else.
bool parse_isa(const std::string& name, Isa* out);

struct CpuFeatures {
  bool x86_64 = false;
  // the psABI levels our ISA libraries are compiled for (-march=x86-64-v3 / -v4); these are what
  // decide, the single features below are reported for users
  bool x86_64_v3 = false, x86_64_v4 = false;
  // x86-64-v3 (our avx2 level): AVX2 + FMA + F16C + BMI1/2 + LZCNT + MOVBE
  bool avx = false, avx2 = false, fma = false, f16c = false, bmi2 = false;
  // x86-64-v4 (our avx512 level): AVX-512 F + BW + CD + DQ + VL
  bool avx512f = false, avx512bw = false, avx512cd = false, avx512dq = false, avx512vl = false;
  // extensions no kernel needs yet, reported so users can see what a bf16/VNNI path would get
  bool avx512vnni = false, avx512bf16 = false;
};

// Reads the features once; the OS support for the wider registers (XSAVE state) is part of the
// check (libgcc's __builtin_cpu_supports tests XCR0).
const CpuFeatures& cpu_features();

bool cpu_supports(const CpuFeatures& cpu, Isa isa);
// The fastest level the CPU supports.
Isa best_isa(const CpuFeatures& cpu);

}  // namespace kiln
