// The fixed 64-byte header at offset 0 of every .mote file (see schema/mote.fbs for the layout).
#pragma once

#include <cstdint>
#include <cstring>

namespace mote {

inline constexpr char kMoteMagic[8] = {'M', 'O', 'T', 'E', 'F', 'I', 'L', 'E'};
// The version writers write, and the oldest one readers accept (schema/mote.fbs has the history:
// version 2 added QuantParams.row_group; a version-1 file is a version-2 file without row groups).
inline constexpr uint32_t kMoteFormatVersion = 2;
inline constexpr uint32_t kMoteMinFormatVersion = 1;
inline constexpr uint64_t kMoteMinAlignment = 4096;

// All fields little-endian; the struct is written and read as raw bytes (x86-64 and aarch64 are
// both little-endian; static_asserts below pin the layout).
struct FileHeader {
  char magic[8];               // kMoteMagic
  uint32_t format_version;     // kMoteMinFormatVersion..kMoteFormatVersion
  uint32_t header_size;        // sizeof(FileHeader) = 64
  uint64_t metadata_offset;    // bytes from file start to the FlatBuffer
  uint64_t metadata_size;      // FlatBuffer size in bytes
  uint64_t data_offset;        // start of the data area; multiple of the alignment
  uint64_t file_size;          // total size, to detect truncation before touching segments
  uint64_t metadata_checksum;  // checksum64 of the FlatBuffer bytes
  uint64_t reserved;           // zero
};
static_assert(sizeof(FileHeader) == 64);
static_assert(offsetof(FileHeader, metadata_offset) == 16);

}  // namespace mote
