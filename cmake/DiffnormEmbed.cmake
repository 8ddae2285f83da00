# Data compiled into the library, so that the program works from any directory without
# data files: the OpenAI CLIP BPE vocabulary (data/clip_vocab), embedded with the
# assembler's .incbin into src/pipeline/clip_vocab_embedded.cpp and inflated with zlib.
# Included after dn_module(pipeline) and before dn_public_library().
find_package(ZLIB REQUIRED)

set(DN_CLIP_BPE_GZ ${PROJECT_SOURCE_DIR}/data/clip_vocab/bpe_simple_vocab_16e6.txt.gz)
set(DN_CLIP_EMBED_SOURCE ${PROJECT_SOURCE_DIR}/src/pipeline/clip_vocab_embedded.cpp)
set_property(SOURCE ${DN_CLIP_EMBED_SOURCE} APPEND PROPERTY
  COMPILE_DEFINITIONS "DN_CLIP_BPE_GZ_PATH=\"${DN_CLIP_BPE_GZ}\"")
# .incbin is invisible to the compiler's dependency scan: rebuild when the file changes.
set_property(SOURCE ${DN_CLIP_EMBED_SOURCE} APPEND PROPERTY OBJECT_DEPENDS ${DN_CLIP_BPE_GZ})

target_link_libraries(dn_pipeline PUBLIC ZLIB::ZLIB)
set_property(GLOBAL APPEND PROPERTY DN_EXTERNAL_LINKS ZLIB::ZLIB)
