// AVX-512 softmax, log-softmax and softmax cross-entropy: ../simd/softmax.h over 16 lanes.
#include <cmath>

#include "../kernels.h"
#include "vmath.h"

namespace kiln::avx512 {

#include "../simd/softmax.h"

}  // namespace kiln::avx512
