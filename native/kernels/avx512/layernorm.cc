// AVX-512 layer norm: ../simd/layernorm.h over 16 lanes.
#include <cmath>

#include "../kernels.h"
#include "vmath.h"

namespace kiln::avx512 {

#include "../simd/layernorm.h"

}  // namespace kiln::avx512
