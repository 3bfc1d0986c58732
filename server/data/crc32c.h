// CRC32C (Castagnoli), the checksum of every 64 KiB block of a chunk.
#pragma once

#include <cstddef>
#include <cstdint>

namespace myfs::server {

// Extends `crc` (0 for a fresh checksum) over `len` bytes at `data`: the standard CRC32C
// (reflected polynomial 0x82F63B78, initial and final XOR 0xFFFFFFFF), so
// crc32c(0, "123456789", 9) == 0xE3069283 and crc32c(crc32c(0, a), b) == crc32c(0, a+b).
// Uses the SSE4.2 crc32 instruction when the CPU has it, else a table-driven fallback.
std::uint32_t crc32c(std::uint32_t crc, const void* data, std::size_t len);

// The table-driven implementation alone (for tests and CPUs without SSE4.2).
std::uint32_t crc32cSoftware(std::uint32_t crc, const void* data, std::size_t len);

// Whether crc32c() uses the hardware instruction on this CPU.
bool crc32cHardwareAvailable();

}  // namespace myfs::server
