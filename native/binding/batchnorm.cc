// (being written)
#include "addon.h"

namespace kiln {

void init_batchnorm(Napi::Env, Napi::Object) {}

}  // namespace kiln
