#include "rlforge/config/config.h"

#include <gtest/gtest.h>

#include <cmath>

#include "rlforge/core/error.h"

namespace rlforge {
namespace {

struct TestConfig {
  int64_t n_steps = 32;
  double gamma = 0.99;
  bool flag = false;
  std::string name = "x";
  std::vector<int64_t> arch = {64, 64};
  Schedule lr = Schedule::Constant(3e-4);
  std::optional<double> target_kl;
  Kwargs kwargs;
  void Visit(FieldVisitor& v) {
    v.Field("n_steps", &n_steps, "steps");
    v.Field("gamma", &gamma, "discount");
    v.Field("flag", &flag, "a flag");
    v.Field("name", &name, "a name");
    v.Field("arch", &arch, "sizes");
    v.Field("lr", &lr, "learning rate");
    v.Field("target_kl", &target_kl, "optional");
    v.Field("kwargs", &kwargs, "map");
  }
};

std::string ErrorOf(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const InvalidArgument& e) {
    return e.what();
  }
  return "";
}

TEST(ScheduleTest, ParsesConstantsAndLinearSchedules) {
  EXPECT_EQ(Schedule::Parse("0.001"), Schedule::Constant(0.001));
  const Schedule lin = Schedule::Parse("lin_0.001");
  EXPECT_EQ(lin.kind, Schedule::Kind::kLinear);
  EXPECT_DOUBLE_EQ(lin.Value(1.0), 0.001);
  EXPECT_DOUBLE_EQ(lin.Value(0.25), 0.00025);
  EXPECT_DOUBLE_EQ(lin.Value(0.0), 0.0);
  const Schedule two = Schedule::Parse("lin_1_0.5");
  EXPECT_DOUBLE_EQ(two.Value(0.5), 0.75);
  EXPECT_EQ(Schedule::Parse(lin.ToString()), lin);
  EXPECT_THROW(Schedule::Parse("fast"), InvalidArgument);
}

TEST(ScheduleTest, CosineSchedulesAnnealLikeCosineAnnealingLR) {
  const Schedule cos = Schedule::Parse("cos_0.001");
  EXPECT_EQ(cos, Schedule::Cosine(0.001));
  EXPECT_DOUBLE_EQ(cos.Value(1.0), 0.001);
  EXPECT_NEAR(cos.Value(0.75), 0.001 * (2.0 + std::sqrt(2.0)) / 4.0, 1e-15);  // (1 + cos(pi/4)) / 2 = 0.8536
  EXPECT_NEAR(cos.Value(0.5), 0.0005, 1e-15);
  EXPECT_NEAR(cos.Value(0.0), 0.0, 1e-15);
  const Schedule two = Schedule::Parse("cos_1_0.2");
  EXPECT_NEAR(two.Value(0.5), 0.6, 1e-12);
  EXPECT_NEAR(two.Value(0.25), 0.2 + 0.8 * (2.0 - std::sqrt(2.0)) / 4.0, 1e-12);
  EXPECT_DOUBLE_EQ(two.Min(), 0.2);
  EXPECT_EQ(two.ToString(), "cos_1_0.2");
  EXPECT_EQ(Schedule::Parse(cos.ToString()), cos);
  EXPECT_THROW(Schedule::Parse("cos_fast"), InvalidArgument);
}

TEST(ConfigIOTest, LoadsYamlAndRejectsUnknownKeysAndBadTypes) {
  TestConfig c;
  ConfigIO::LoadYamlText("n_steps: 64\ngamma: 0.9\nflag: true\narch: [32, 16]\nlr: lin_1e-3\ntarget_kl: 0.02\n"
                         "kwargs: {is_slippery: false}\n",
                         "test.yaml", c);
  EXPECT_EQ(c.n_steps, 64);
  EXPECT_EQ(c.gamma, 0.9);
  EXPECT_TRUE(c.flag);
  EXPECT_EQ(c.arch, (std::vector<int64_t>{32, 16}));
  EXPECT_EQ(c.lr.kind, Schedule::Kind::kLinear);
  EXPECT_EQ(c.target_kl, 0.02);
  EXPECT_EQ(c.kwargs.GetString("is_slippery", ""), "false");
  const std::string unknown = ErrorOf([&] { ConfigIO::LoadYamlText("n_stepz: 3", "test.yaml", c); });
  EXPECT_NE(unknown.find("unknown config key 'n_stepz'"), std::string::npos);
  EXPECT_NE(unknown.find("valid keys: n_steps, gamma"), std::string::npos);
  const std::string type = ErrorOf([&] { ConfigIO::LoadYamlText("n_steps: many", "test.yaml", c); });
  EXPECT_NE(type.find("config key 'n_steps' in test.yaml must be an integer, got 'many'"), std::string::npos);
  // Numbers a double cannot hold are named as such (both read "must be a number" before).
  for (const char* v : {"gamma: 1e-400", "gamma: 1e400"})
    EXPECT_NE(ErrorOf([&] { ConfigIO::LoadYamlText(v, "t", c); }).find("config key 'gamma' in t is out of a double's range"),
              std::string::npos)
        << v;
  EXPECT_NE(ErrorOf([&] { ConfigIO::LoadYamlText("n_steps: 2.5", "t", c); }).find("must be an integer"),
            std::string::npos);
  // A subnormal is a double (5e-324 was refused as out of range).
  ConfigIO::LoadYamlText("gamma: 5e-324", "t", c);
  EXPECT_EQ(c.gamma, std::nextafter(0.0, 1.0));
  EXPECT_NE(ErrorOf([&] { ConfigIO::LoadYamlText("flag: maybe", "t", c); })
                .find("config key 'flag' in t must be true or false (or yes/no, on/off, 1/0), got 'maybe'"),
            std::string::npos);
  // Booleans are spelt as kwargs spell them, in any case (Yes and TRUE were refused as "true or false").
  for (const char* v : {"flag: Yes", "flag: TRUE", "flag: ON"}) {
    c.flag = false;
    ConfigIO::LoadYamlText(v, "t", c);
    EXPECT_TRUE(c.flag) << v;
  }
  ConfigIO::LoadYamlText("flag: OFF", "t", c);
  EXPECT_FALSE(c.flag);
  // A second YAML document was dropped without a word; a key that is a list
  // gave yaml-cpp's "bad conversion".
  EXPECT_EQ(ErrorOf([&] { ConfigIO::LoadYamlText("gamma: 0.9\n---\ngamma: 0.5\n", "t", c); }),
            "t: holds 2 YAML documents (separated by ---); a config is one map of key: value");
  ConfigIO::LoadYamlText("---\ngamma: 0.25\n---\n# the end\n", "t", c);  // empty documents are no second config
  EXPECT_EQ(c.gamma, 0.25);
  EXPECT_EQ(ErrorOf([&] { ConfigIO::LoadYamlText("---\n---\ngamma: 0.5\n", "t", c); }),
            "t: the config must be its first YAML document (an empty one comes before it)");
  EXPECT_EQ(ErrorOf([&] { ConfigIO::LoadYamlText("a: 1\n---\nb: 2\n---\nc: 3\n---\nd: 4\n", "t", c); }),
            "t: holds 3 or more YAML documents (separated by ---); a config is one map of key: value");
  EXPECT_EQ(ErrorOf([&] { ConfigIO::LoadYamlText("[1, 2]: 0.9", "t", c); }),
            "t: a config key must be a name, not a list or map");
  EXPECT_NE(ErrorOf([&] { ConfigIO::LoadYamlText("kwargs: {[1]: 2}", "t", c); }).find("keys must be names"),
            std::string::npos);
  EXPECT_NE(ErrorOf([&] { ConfigIO::LoadYamlText("arch: 5", "t", c); }).find("list of integers"), std::string::npos);
  EXPECT_NE(ErrorOf([&] { ConfigIO::LoadYamlText("[1, 2]", "t", c); }).find("must be a map"), std::string::npos);
}

// Integers were read through a double: 2^53 + 1 became 2^53, and 2^63 - 1
// (which --steps takes) was refused when a run's config.yaml was read back.
TEST(ConfigIOTest, IntegersAreExact) {
  TestConfig c;
  ConfigIO::Set("n_steps=9007199254740993", c);
  EXPECT_EQ(c.n_steps, 9007199254740993LL);
  ConfigIO::LoadYamlText("n_steps: 9223372036854775807\narch: [-9223372036854775808, +7]", "t", c);
  EXPECT_EQ(c.n_steps, INT64_MAX);
  EXPECT_EQ(c.arch, (std::vector<int64_t>{INT64_MIN, 7}));
  ConfigIO::LoadYamlText("n_steps: 1e6", "t", c);  // whole numbers in other forms still read
  EXPECT_EQ(c.n_steps, 1000000);
  EXPECT_NE(ErrorOf([&] { ConfigIO::Set("n_steps=9223372036854775808", c); })
                .find("config key 'n_steps' is 9223372036854775808, beyond the 64-bit integers (-9223372036854775808"),
            std::string::npos);
  EXPECT_NE(ErrorOf([&] { ConfigIO::Set("n_steps=1e17", c); }).find("exact only up to 2^53: write it in digits"),
            std::string::npos);
  // A round trip through the YAML a run writes keeps the value.
  ConfigIO::Set("n_steps=9223372036854775807", c);
  TestConfig back;
  ConfigIO::LoadYamlText(ConfigIO::ToYaml(c), "t", back);
  EXPECT_EQ(back.n_steps, INT64_MAX);
}

TEST(ConfigIOTest, SetOverridesAndYamlRoundTrip) {
  TestConfig c;
  ConfigIO::Set("gamma=0.5", c);
  ConfigIO::Set("arch=[8]", c);
  ConfigIO::Set("target_kl=0.01", c);
  ConfigIO::Set("name=hello", c);
  EXPECT_EQ(c.gamma, 0.5);
  EXPECT_EQ(c.arch, std::vector<int64_t>{8});
  ConfigIO::Set("target_kl=null", c);
  EXPECT_FALSE(c.target_kl.has_value());
  EXPECT_THROW(ConfigIO::Set("nope=1", c), InvalidArgument);
  EXPECT_THROW(ConfigIO::Set("gamma", c), InvalidArgument);
  c.lr = Schedule::Linear(0.001);
  c.kwargs.Set("map_name", "8x8");
  const std::string yaml = ConfigIO::ToYaml(c);
  TestConfig d;
  ConfigIO::LoadYamlText(yaml, "saved", d);
  EXPECT_EQ(ConfigIO::ToYaml(d), yaml);
  EXPECT_EQ(d.lr, c.lr);
  EXPECT_EQ(d.kwargs.GetString("map_name", ""), "8x8");
  EXPECT_NE(yaml.find("gamma: 0.5  # discount"), std::string::npos);  // each key carries its comment
}

// --set and --kwarg read a number from the same text alike: a kwarg refused
// 1e3 and 2048.0 (whole numbers to --set), skipped leading blanks but refused
// trailing ones (YAML drops both), and its range errors did not say the range.
TEST(ConfigIOTest, SetAndKwargReadNumbersAlike) {
  TestConfig c;
  for (const auto& [text, value] : std::vector<std::pair<std::string, int64_t>>{
           {"1e3", 1000}, {"2048.0", 2048}, {"+7", 7}, {" 5", 5}, {"5 ", 5}, {"\t-3 ", -3}}) {
    ConfigIO::Set("n_steps=" + text, c);
    EXPECT_EQ(c.n_steps, value) << text;
    EXPECT_EQ(Kwargs({{"k", text}}).GetInt("k", 0), value) << text;
    EXPECT_EQ(Kwargs({{"k", text}}).GetInt32("k", 0), value) << text;
  }
  for (const char* text : {"5x", "2.5", "inf", "nan", "1 2", "[5]", "0x10", "1e-400"}) {
    EXPECT_THROW(ConfigIO::Set(std::string("n_steps=") + text, c), InvalidArgument) << text;
    EXPECT_THROW(Kwargs({{"k", text}}).GetInt("k", 0), InvalidArgument) << text;
  }
  EXPECT_THROW(Kwargs({{"k", ""}}).GetInt("k", 0), InvalidArgument);
  EXPECT_EQ(Kwargs({{"g", " 9.5 "}}).GetDouble("g", 0), 9.5);
  EXPECT_EQ(ErrorOf([] { Kwargs({{"k", "3e9"}}).GetInt32("k", 0, "E-v0"); }),
            "kwarg 'k' of E-v0 is 3e9, beyond the 32-bit integers (-2147483648 to 2147483647)");
  EXPECT_EQ(ErrorOf([] { Kwargs({{"k", "many"}}).GetInt("k", 0, "E-v0"); }), "kwarg 'k' of E-v0 must be an integer, got 'many'");
  // Out of range before anything else: 1e17 in a 32-bit kwarg was told to write it in digits.
  EXPECT_EQ(ErrorOf([] { Kwargs({{"k", "1e17"}}).GetInt32("k", 0, "E-v0"); }),
            "kwarg 'k' of E-v0 is 1e17, beyond the 32-bit integers (-2147483648 to 2147483647)");
  EXPECT_NE(ErrorOf([] { Kwargs({{"k", "1e400"}}).GetInt("k", 0); }).find("beyond the 64-bit integers"), std::string::npos);
  // A double kwarg out of a double's range says so (it read "must be a finite number").
  EXPECT_NE(ErrorOf([] { Kwargs({{"g", "1e-400"}}).GetDouble("g", 0); }).find("out of a double's range"), std::string::npos);
  EXPECT_EQ(Kwargs({{"k", "7\n"}}).GetInt("k", 0), 7);  // blanks as YAML drops them
  EXPECT_EQ(ErrorOf([] { Kwargs({{"k", "1e17"}}).GetInt("k", 0, "E-v0"); }),
            "kwarg 'k' of E-v0 is 1e17, a number written this way is exact only up to 2^53: write it in digits");
}

// FrozenLake's reward_schedule is a list: written as a YAML list in
// env_kwargs it was refused ("values must be plain values"), and "[1,-1,0]"
// as --kwarg said "must be a finite number, got '[1'".
TEST(ConfigIOTest, KwargListsAreCommaSeparatedText) {
  TestConfig c;
  ConfigIO::Set("kwargs={reward_schedule: [1, -1, 0]}", c);
  EXPECT_EQ(c.kwargs.GetString("reward_schedule", ""), "1,-1,0");
  EXPECT_THROW(Kwargs({{"r", "1,0,0,"}}).GetDoubles("r", {}), InvalidArgument);  // read as 1,0,0 (1,,0 was refused)
  EXPECT_EQ(c.kwargs.GetDoubles("reward_schedule", {}), (std::vector<double>{1, -1, 0}));
  for (const char* text : {"[1, -1, 0]", "(1,-1,0)", " 1 , -1 , 0 "}) {
    const Kwargs k{{"r", text}};
    EXPECT_EQ(k.GetDoubles("r", {}), (std::vector<double>{1, -1, 0})) << text;
  }
  EXPECT_EQ(ErrorOf([] { Kwargs{{"r", "1;-1;0"}}.GetDoubles("r", {}, "FrozenLake-v1"); }),
            "kwarg 'r' of FrozenLake-v1 must be numbers separated by commas, like 1,-1,0; got '1;-1;0' ('1;-1;0' is "
            "no finite number)");
  EXPECT_NE(ErrorOf([] { Kwargs{{"r", "nan,0,0"}}.GetDoubles("r", {}); }).find("('nan' is no finite number)"),
            std::string::npos);
  EXPECT_NE(ErrorOf([&] { ConfigIO::Set("kwargs={a: [[1]]}", c); }).find("plain values or lists of them"),
            std::string::npos);
}

// A run's config.yaml held 10 significant digits: gamma 0.99999999999 read
// back as 1 and a learning rate 0.12345678912345 as 0.1234567891, so
// `train --config RUN/config.yaml` made another run.
TEST(ConfigIOTest, NumbersReadBackExactly) {
  for (double v : {0.99999999999, 0.12345678912345, 123456789012.5, 0.1, 3e-4, 1.0 / 3.0, 5e-324, 1.7976931348623157e308}) {
    TestConfig c;
    c.gamma = v;
    c.lr = Schedule::Linear(v);
    TestConfig back;
    ConfigIO::LoadYamlText(ConfigIO::ToYaml(c), "t", back);
    EXPECT_EQ(back.gamma, v);
    EXPECT_EQ(back.lr, c.lr);
  }
  TestConfig c;
  c.gamma = 0.1;
  EXPECT_NE(ConfigIO::ToYaml(c).find("gamma: 0.1  #"), std::string::npos);  // short values stay short
}

}  // namespace
}  // namespace rlforge

namespace rlforge {
namespace {

// Found by fuzz/config_yaml_fuzz: user text with a newline (here in a key)
// made a two-line error. Every Error is one line; control characters are
// escaped.
TEST(ConfigErrorTest, ErrorsQuotingUserTextStayOnOneLine) {
  TestConfig c;
  try {
    ConfigIO::LoadYamlText("\"bad\\nkey\": 1\n", "test.yaml", c);
    FAIL() << "an unknown key was accepted";
  } catch (const InvalidArgument& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    EXPECT_NE(what.find("bad\\nkey"), std::string::npos) << what;
  }
  EXPECT_STREQ(Error("a\tb\x01").what(), "a\\tb\\x01");
}

}  // namespace
}  // namespace rlforge

namespace rlforge {
namespace {

// Found by fuzz/set_kwarg_fuzz (UBSan): a list entry past int64's range was
// cast to an integer (undefined behaviour) instead of being refused.
TEST(ConfigErrorTest, ListEntriesOutsideInt64AreRefused) {
  TestConfig c;
  EXPECT_THROW(ConfigIO::Set("arch=[1.11111e19]", c), InvalidArgument);
  EXPECT_THROW(ConfigIO::Set("arch=[-1e30]", c), InvalidArgument);
  ConfigIO::Set("arch=[3, 4]", c);
  EXPECT_EQ(c.arch, (std::vector<int64_t>{3, 4}));
}

}  // namespace
}  // namespace rlforge

namespace rlforge {
namespace {

// Found by fuzz/config_yaml_fuzz: bytes that are not UTF-8 were replaced by
// the YAML parser (changing a key) instead of being refused.
TEST(ConfigErrorTest, TextThatIsNotUtf8IsRefused) {
  TestConfig c;
  EXPECT_THROW(ConfigIO::LoadYamlText("name: ab\xff\n", "test.yaml", c), InvalidArgument);
  EXPECT_THROW(ConfigIO::Set("name=\xc0\x80", c), InvalidArgument);
  // A NUL in a key came out of the YAML parser as a byte that is not UTF-8.
  EXPECT_THROW(ConfigIO::LoadYamlText(std::string("kwargs: {ml") + '\0' + "_se: 8}\n", "test.yaml", c), InvalidArgument);
  ConfigIO::LoadYamlText("name: caf\xc3\xa9\n", "test.yaml", c);  // UTF-8 is fine
  EXPECT_EQ(c.name, "caf\xc3\xa9");
}

}  // namespace
}  // namespace rlforge
