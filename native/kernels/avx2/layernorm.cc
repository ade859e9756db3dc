// AVX2 layer norm: ../simd/layernorm.h over 8 lanes.
#include <cmath>

#include "../kernels.h"
#include "vmath.h"

namespace kiln::avx2 {

#include "../simd/layernorm.h"

}  // namespace kiln::avx2
