// AVX2 pixel-major convolution windows: ../simd/im2row.h over 8 lanes.
#include "../kernels.h"
#include "vmath.h"

namespace kiln::avx2 {

#include "../simd/im2row.h"

}  // namespace kiln::avx2
