// CRC32C (Castagnoli), the checksum of vector index files. Uses the SSE4.2
// crc32 instruction when the CPU has it (runtime check), a table otherwise;
// both give identical values.
//
// Thread safety: pure function, safe to call concurrently.
#pragma once

#include <cstddef>
#include <cstdint>

namespace nodespace::vector {

// CRC32C of data[0, n), continuing from a previous `crc` (0 to start).
uint32_t Crc32c(const void* data, size_t n, uint32_t crc = 0);

}  // namespace nodespace::vector
