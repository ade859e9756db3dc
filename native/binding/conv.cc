// (being written)
#include "addon.h"

namespace kiln {

void init_conv(Napi::Env, Napi::Object) {}

}  // namespace kiln
