// The OpenAI CLIP BPE file (bpe_simple_vocab_16e6.txt.gz, 1.3 MB) placed in the
// library's read-only data by the assembler; cmake/DiffnormEmbed.cmake passes its path.
#include "pipeline/clip_vocab.h"

#ifndef DN_CLIP_BPE_GZ_PATH
#error "DN_CLIP_BPE_GZ_PATH is set by cmake/DiffnormEmbed.cmake"
#endif

extern "C" {
extern const unsigned char dn_clip_bpe_gz_begin[];
extern const unsigned char dn_clip_bpe_gz_end[];
}

asm(".section .rodata.dn_clip_bpe_gz,\"a\",@progbits\n"
    ".global dn_clip_bpe_gz_begin\n"
    ".hidden dn_clip_bpe_gz_begin\n"
    "dn_clip_bpe_gz_begin:\n"
    ".incbin \"" DN_CLIP_BPE_GZ_PATH "\"\n"
    ".global dn_clip_bpe_gz_end\n"
    ".hidden dn_clip_bpe_gz_end\n"
    "dn_clip_bpe_gz_end:\n"
    ".previous\n");

namespace diffnorm {

std::span<const unsigned char> embedded_openai_clip_bpe_gz() {
  return {dn_clip_bpe_gz_begin, static_cast<std::size_t>(dn_clip_bpe_gz_end - dn_clip_bpe_gz_begin)};
}

}  // namespace diffnorm
