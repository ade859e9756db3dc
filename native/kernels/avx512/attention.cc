// AVX-512 row pieces of the tiled attention: ../simd/attention.h over 16 lanes.
#include <cmath>
#include <limits>

#include "../attention.h"
#include "vmath.h"

namespace kiln::avx512 {

#include "../simd/attention.h"

}  // namespace kiln::avx512
