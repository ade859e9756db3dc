// AVX-512 row pieces of the tiled attention (runtime/attention.cc): the code of
// ../attention_rows.h over this level's vmath.h.
#include <cmath>
#include <limits>

#include "../attention.h"
#include "vmath.h"

namespace kiln::avx512 {

#include "../attention_rows.h"

}  // namespace kiln::avx512
