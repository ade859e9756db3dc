// AVX-512 pixel-major convolution windows: ../simd/im2row.h over 16 lanes.
#include "../kernels.h"
#include "vmath.h"

namespace kiln::avx512 {

#include "../simd/im2row.h"

}  // namespace kiln::avx512
