#include "rlforge/core/file_io.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "rlforge/core/checkpoint_file.h"
#include "rlforge/core/error.h"

namespace fs = std::filesystem;

namespace rlforge {
namespace {

std::string FreshDir(const std::string& name) {
  const std::string dir = testing::TempDir() + "/rlforge_file_io_test/" + name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// A disk that fills up during a checkpoint write (simulated with a file-size
// limit in a child process, SIGXFSZ ignored as the rlforge command does):
// the write fails with one Error naming the file, the temp file is removed
// and the previous checkpoint is intact. (A c10::Error used to escape here.)
TEST(AtomicFileTest, AFullDiskKeepsThePreviousCheckpointAndLeavesNoTempFile) {
  const std::string dir = FreshDir("full_disk");
  const std::string path = dir + "/final.pt";
  {
    CheckpointWriter w(path);
    std::string small = "good";
    w("weights", &small);
    w.Commit();
  }
  const std::string before = ReadWholeFile(path, "checkpoint");
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    signal(SIGXFSZ, SIG_IGN);
    rlimit limit{64 * 1024, 64 * 1024};
    setrlimit(RLIMIT_FSIZE, &limit);
    int code = 10;
    try {
      CheckpointWriter w(path);
      std::string big(1 << 20, 'x');
      w("weights", &big);
      w.Commit();
      code = 11;  // no error: wrong
    } catch (const Error& e) {
      const std::string what = e.what();
      code = what.find("final.pt") != std::string::npos && what.find('\n') == std::string::npos ? 0 : 12;
    } catch (...) {
      code = 13;
    }
    _exit(code);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "the child died of signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(ReadWholeFile(path, "checkpoint"), before);
  for (const auto& e : fs::directory_iterator(dir)) EXPECT_NE(e.path().extension(), ".tmp") << e.path();
  CheckpointReader r(path);
  std::string weights;
  r("weights", &weights);
  EXPECT_EQ(weights, "good");
}

TEST(ReadWholeFileTest, ADirectoryIsRefusedByName) {
  const std::string dir = FreshDir("a_dir");
  try {
    ReadWholeFile(dir, "config file");
    FAIL() << "a directory was read as a file";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("is a directory"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace rlforge
