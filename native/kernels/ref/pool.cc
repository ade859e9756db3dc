// (being written)
#include "../kernels.h"
