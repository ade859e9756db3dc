// AVX2 row pieces of the tiled attention: ../simd/attention.h over 8 lanes.
#include <cmath>
#include <limits>

#include "../attention.h"
#include "vmath.h"

namespace kiln::avx2 {

#include "../simd/attention.h"

}  // namespace kiln::avx2
