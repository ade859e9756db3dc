// One input row copied into a zero-padded row of wp floats: pad zeros, the W values of in, then
// zeros to the end (the direct small-channel kernels read shifted vectors from it).
// NOTE: include only from an ISA library's conv_rows.cc (it sits in that library's namespace).
#pragma once

namespace {

inline void padded_row(float* o, size_t wp, const float* in, size_t W, size_t pad) {
  const size_t w0 = std::min(pad, wp), w1 = std::min(wp, pad + W);
  std::fill(o, o + w0, 0.0f);
  if (w0 < w1) std::copy(in, in + (w1 - w0), o + w0);
  std::fill(o + std::max(w0, w1), o + wp, 0.0f);
}

}  // namespace
