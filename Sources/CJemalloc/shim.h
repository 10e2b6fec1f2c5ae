// jemalloc, linked into the harmonybatch binary so that it serves every malloc and free of the
// process (librdkafka's and the Swift runtime's included); see Sources/HarmonyBatchCLI/Allocator.swift.
#include <jemalloc/jemalloc.h>
