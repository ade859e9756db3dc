// acc + b * (*a) with *a broadcast to every lane by the FMA itself, from memory ({1to16}), for
// the register tiles that multiply a vector of B by one value of A per row (gemm.cc,
// winograd.cc). Written as _mm512_fmadd_ps(_mm512_set1_ps(*a), ...), GCC loads each A value
// once into a register with vbroadcastss for the tile's two FMAs, and on Zen 4 those broadcasts
// cost FMA throughput. Same-process A/B, 2 threads, bit-identical: square/1024 1.03-1.04x,
// 2048^3 1.01-1.05x, 2048 x 1024 x 256 transB (packed) 1.03-1.05x; 512 x 4608 x 512 transB
// (1 thread) 1.04x.
// The A value is then loaded once per FMA: loads are not what limits these tiles.
// NOTE: included only by files of this ISA library; the anonymous namespace keeps its copies
// out of baseline code (see vmath.h).
#pragma once

#include <immintrin.h>

namespace kiln::avx512 {
namespace {

__attribute__((always_inline)) inline __m512 fma_bcast(__m512 acc, __m512 b, const float* a) {
  asm("vfmadd231ps %1%{1to16%}, %2, %0" : "+v"(acc) : "m"(*a), "v"(b));
  return acc;
}

}  // namespace
}  // namespace kiln::avx512
