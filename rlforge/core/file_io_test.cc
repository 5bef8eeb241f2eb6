#include "rlforge/core/file_io.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
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

// A write to a FIFO (or a device such as /dev/full) replaced it with a
// regular file, and a write to a symbolic link replaced the link: special
// files are refused and links are written through.
TEST(AtomicFileTest, SpecialFilesAreRefusedAndLinksWrittenThrough) {
  const std::string dir = FreshDir("special");
  const std::string fifo = dir + "/pipe";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  try {
    WriteFileAtomically(fifo, "data");
    FAIL() << "a FIFO was replaced";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("not a regular file"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(fs::is_fifo(fifo));
  EXPECT_NE(OutputFileProblem(fifo).find("not a regular file"), std::string::npos);
  EXPECT_NE(OutputFileProblem(dir).find("is a directory"), std::string::npos);

  const std::string target = dir + "/target.bin", link = dir + "/link.bin";
  WriteFileAtomically(target, "old");
  fs::create_symlink("target.bin", link);  // relative to the link's directory
  EXPECT_EQ(OutputFileProblem(link), "");
  WriteFileAtomically(link, "new");
  EXPECT_TRUE(fs::is_symlink(link));
  EXPECT_EQ(ReadWholeFile(target, "target"), "new");
  // A link to a FIFO is refused like the FIFO.
  fs::create_symlink(fifo, dir + "/to_pipe");
  EXPECT_THROW(WriteFileAtomically(dir + "/to_pipe", "x"), InvalidArgument);
  EXPECT_TRUE(fs::is_fifo(fifo));
  for (const auto& e : fs::directory_iterator(dir)) EXPECT_NE(e.path().extension(), ".tmp") << e.path();
}

}  // namespace
}  // namespace rlforge
