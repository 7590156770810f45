// The file loaders (loader/data_loader.h) over the platform's file I/O: MappedFileLoader wraps
// cpu/MappedFile, PreadLoader wraps cpu/FileReader. Both are immutable after open and safe to
// share between threads.
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "cpu/file_reader.h"
#include "cpu/mapped_file.h"
#include "loader/data_loader.h"

namespace mote {

Status DataLoader::check_range(uint64_t offset, uint64_t len) const {
  if (offset <= size_ && len <= size_ - offset) return Status::ok();
  return out_of_range(name_ + ": read of " + std::to_string(len) + " bytes at offset " + std::to_string(offset) +
                      " lies outside its " + std::to_string(size_) + " bytes");
}

namespace {

class PreadLoader final : public DataLoader {
 public:
  PreadLoader(std::unique_ptr<FileReader> reader, uint64_t size)
      : DataLoader(reader->path(), size), reader_(std::move(reader)) {}
  LoaderKind kind() const override { return LoaderKind::kPread; }
  Status read_at(uint64_t offset, void* dst, uint64_t len, uint64_t dst_capacity) const override {
    MOTE_RETURN_IF_ERROR(check_range(offset, len));
    if (len == 0) return Status::ok();
    return reader_->read_exact(offset, len, static_cast<uint8_t*>(dst), std::max(dst_capacity, len));
  }
  bool direct_io() const override { return reader_->direct(); }
  void release_pages(uint64_t offset, uint64_t len) const override { reader_->drop_cache(offset, len); }
  Result<std::unique_ptr<DataLoader>> reader(bool direct_io) const override {
    return open_pread_file(name(), direct_io);
  }

 private:
  std::unique_ptr<FileReader> reader_;
};

class MappedFileLoader final : public DataLoader {
 public:
  explicit MappedFileLoader(MappedFile file) : DataLoader(file.path(), file.size()), file_(std::move(file)) {}
  LoaderKind kind() const override { return LoaderKind::kMappedFile; }
  Status read_at(uint64_t offset, void* dst, uint64_t len, uint64_t) const override {
    MOTE_RETURN_IF_ERROR(check_range(offset, len));
    if (len > 0) std::memcpy(dst, file_.data() + offset, size_t(len));
    return check();  // a fault during the copy left zeros in dst
  }
  const uint8_t* view(uint64_t offset, uint64_t len) const override {
    if (file_.data() == nullptr || !check_range(offset, len)) return nullptr;
    return file_.data() + offset;
  }
  void release_pages(uint64_t offset, uint64_t len) const override { file_.release_pages(offset, len); }
  Status check() const override {
    if (!file_.faulted()) return Status::ok();
    return io_error(name() + ": the file was truncated or became unreadable while in use (a read of its memory map "
                    "failed); this call's results are discarded, reopen the model");
  }
  Result<std::unique_ptr<DataLoader>> reader(bool direct_io) const override {
    return open_pread_file(name(), direct_io);
  }

 private:
  MappedFile file_;
};

}  // namespace

Result<std::unique_ptr<DataLoader>> open_mapped_file(const std::string& path) {
  MOTE_ASSIGN_OR_RETURN(MappedFile file, MappedFile::open(path));
  return std::unique_ptr<DataLoader>(new MappedFileLoader(std::move(file)));
}

Result<std::unique_ptr<DataLoader>> open_pread_file(const std::string& path, bool direct_io) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int err = errno;
    if (err == ENOENT) return not_found(path + ": no such file");
    return io_error(path + ": cannot open: " + std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) return io_error(path + ": not a regular file");
  MOTE_ASSIGN_OR_RETURN(std::unique_ptr<FileReader> reader, FileReader::open(path, direct_io));
  return std::unique_ptr<DataLoader>(new PreadLoader(std::move(reader), uint64_t(st.st_size)));
}

}  // namespace mote
