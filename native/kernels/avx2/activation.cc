// AVX2 GELU and dropout: ../simd/activation.h over 8 lanes.
#include "../kernels.h"
#include "vmath.h"

namespace kiln::avx2 {

#include "../simd/activation.h"

}  // namespace kiln::avx2
