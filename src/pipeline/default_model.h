// The built-in default model: a small SD 1.5-structured pipeline (the block structure of
// SD 1.5 with tiny widths, like the fixtures' sd15-struct) whose weights are generated
// deterministically (nn::RandomWeights), with the built-in CLIP tokenizer. It lets
// `diffnorm generate -p "..." -o out.png` run end to end in seconds without any file; the
// picture is structured noise, because the weights are random.
#pragma once

#include "pipeline/pipeline_models.h"

namespace diffnorm {

/// Same seed, same weights, same image.
PipelineModels make_default_pipeline(uint64_t weight_seed = 0);

}  // namespace diffnorm
