// Runs the exported model with the runtime alone.
#include <cstdio>

#include <tl/program.h>

int main() {
  tl::Program line = tl::load_program("line.tlart");
  float in[64] = {2.0f};
  tl::Tensor y = line({tl::from_blob(in, {64, 1}, tl::kFloat32)})[0];
  const float y0 = y.data<float>()[0];
  std::printf("line(2) = %.3f\n", y0);
  return y0 > 6.98f && y0 < 7.02f ? 0 : 1;
}
