// An out-of-tree program using the installed diffnorm package.
#include <cstdio>

#include "diffnorm/tensor.h"

int main() {
  diffnorm::Tensor t = diffnorm::Tensor::full({2, 3}, 1.5, diffnorm::DType::BF16);
  const double v = t.to(diffnorm::DType::F32).item(5);
  if (v != 1.5) return 1;
  std::printf("consumer: ok (%s)\n", t.describe().c_str());
  return 0;
}
