// Fuzz target: checkpoint files (rlforge/core/checkpoint_file.h). The first
// byte picks the mode:
//   even: the rest is the file as it is (a damaged or foreign file);
//   odd:  the rest is a list of fields (u8 name length, name, u16 data
//         length, data) written by CheckpointWriter, so the checksums are
//         right and the field contents themselves are fuzzed.
// Reading must either succeed or throw rlforge::Error; the fields are then
// read back as the typed values agents store (vectors, strings, maps).
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "rlforge/core/checkpoint_file.h"
#include "rlforge/core/error.h"
#include "rlforge/core/file_io.h"

namespace {

const std::string& TempPath() {
  static const std::string path = [] {
    char name[] = "/tmp/rlforge_checkpoint_fuzz_XXXXXX";
    const int fd = mkstemp(name);
    if (fd < 0) std::abort();
    close(fd);
    return std::string(name);
  }();
  return path;
}

template <typename T>
void ReadAs(const std::string& bytes) {
  try {
    rlforge::StateReader r(bytes, "fuzz field");
    T value;
    r(value);
    r.ExpectEnd();
  } catch (const rlforge::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rlforge;
  if (size == 0) return 0;
  const std::string& path = TempPath();
  std::vector<std::string> names;
  if (data[0] % 2 == 0) {
    WriteFileAtomically(path, std::string(reinterpret_cast<const char*>(data + 1), size - 1));
  } else {
    CheckpointWriter w(path);
    size_t pos = 1;
    while (pos < size) {
      const size_t name_len = data[pos++];
      if (pos + name_len + 2 > size) break;
      std::string name(reinterpret_cast<const char*>(data + pos), name_len);
      pos += name_len;
      size_t len = data[pos] | (static_cast<size_t>(data[pos + 1]) << 8);
      pos += 2;
      len = std::min(len, size - pos);
      std::string bytes(reinterpret_cast<const char*>(data + pos), len);
      pos += len;
      try {
        w(name, &bytes);
      } catch (const Error&) {  // a repeated name
        continue;
      }
      names.push_back(name);
    }
    w.Commit();
  }
  try {
    CheckpointReader r(path);
    std::string algo;
    try {
      r("algorithm", &algo);
    } catch (const Error&) {
    }
    for (const auto& name : names) {
      std::string bytes;
      r(name, &bytes);  // the writer stored it: reading it back must work
      ReadAs<std::vector<double>>(bytes);
      ReadAs<std::vector<int64_t>>(bytes);
      ReadAs<std::string>(bytes);
      ReadAs<std::map<std::string, double>>(bytes);
      ReadAs<std::vector<std::string>>(bytes);
    }
    try {
      r.ExpectAllRead();
    } catch (const Error&) {
    }
  } catch (const Error& e) {
    if (!names.empty() || data[0] % 2 == 1) {
      // A file the writer produced must read back.
      std::abort();
    }
  }
  return 0;
}
