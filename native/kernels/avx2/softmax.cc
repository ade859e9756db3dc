// AVX2 softmax, log-softmax and softmax cross-entropy: ../simd/softmax.h over 8 lanes.
#include <cmath>

#include "../kernels.h"
#include "vmath.h"

namespace kiln::avx2 {

#include "../simd/softmax.h"

}  // namespace kiln::avx2
