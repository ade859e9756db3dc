// AVX-512 GELU and dropout: ../simd/activation.h over 16 lanes.
#include "../kernels.h"
#include "vmath.h"

namespace kiln::avx512 {

#include "../simd/activation.h"

}  // namespace kiln::avx512
