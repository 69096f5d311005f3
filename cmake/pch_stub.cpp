// Built only to produce the precompiled <tl/tl.h> that examples and user programs reuse. An
// executable, so that it is compiled with the same position-independence flags as they are.
#include <tl/tl.h>

int main() { return 0; }
