#include "eddy/nexmark.h"  // placeholder: being written
