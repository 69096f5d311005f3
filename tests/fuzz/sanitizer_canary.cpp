// Built only in sanitized builds (TL_SANITIZE, TL_FUZZ): a program that must be reported.
// scripts/sanitize.sh runs it first and fails when the sanitizer stays silent, so a build
// whose flags lost the sanitizers cannot pass as clean. Usage: sanitizer_canary heap|signed
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  // The sizes and values come from the command line so that nothing is folded at compile time.
  const int n = static_cast<int>(std::strlen(argv[1]));
  if (std::strcmp(argv[1], "heap") == 0) {
    char* buffer = static_cast<char*>(std::malloc(n));
    buffer[n] = 'x';  // one past the end: AddressSanitizer's heap-buffer-overflow
    std::printf("%c\n", buffer[n]);
    std::free(buffer);
  } else if (std::strcmp(argv[1], "signed") == 0) {
    int big = INT_MAX - 2 + n;  // INT_MAX + 4 in exact arithmetic
    std::printf("%d\n", big);   // UndefinedBehaviorSanitizer's signed integer overflow
  } else {
    return 2;
  }
  return 0;
}
