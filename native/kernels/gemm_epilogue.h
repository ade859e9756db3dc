// The scalar side of a GEMM register tile's epilogue (avx2/gemm.cc, avx512/gemm.cc): what is
// done to the sums before they are stored, read out of the GemmTile once. As far as the compiler
// knows, a store to C could change the tile's fields, and it would load them again after every
// store. The vector arithmetic stays with each ISA's tile.
#pragma once

#include "kernels.h"

namespace kiln {

struct TileEpilogue {
  float alpha, beta;
  const float* bias_row;  // nullptr unless this is the last K block
  const float* bias_col;
  bool relu;   // on the last K block only (GELU: each tile's own path)
  bool plain;  // nothing to do before GELU or the store
  explicit TileEpilogue(const GemmTile& t)
      : alpha(t.alpha),
        beta(t.beta),
        bias_row(t.last ? t.bias_row : nullptr),
        bias_col(t.last ? t.bias_col : nullptr),
        relu(t.last && t.act == Act::relu),
        plain(alpha == 1.0f && beta == 0.0f && !bias_row && !bias_col && !relu) {}
};

}  // namespace kiln
