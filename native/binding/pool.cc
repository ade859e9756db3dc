// (being written)
#include "addon.h"

namespace kiln {

void init_pool(Napi::Env, Napi::Object) {}

}  // namespace kiln
