// Minari-format datasets on Debian's libhdf5 (C API) and nlohmann-json.
#include "rlforge/data/dataset.h"

#include <hdf5.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>

#include "rlforge/core/error.h"
#include "rlforge/core/file_io.h"
#include "rlforge/core/rng.h"
#include "rlforge/data/jpeg.h"
#include "rlforge/env/registry.h"

namespace rlforge {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr const char* kDataFile = "main_data.hdf5";
constexpr const char* kMetadataFile = "metadata.json";
constexpr const char* kOurEntryPoint = "rlforge.envs:RlforgeEnv";

// An HDF5 handle closed on scope exit.
class H5 {
 public:
  H5(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~H5() {
    if (id_ >= 0) close_(id_);
  }
  H5(const H5&) = delete;
  H5& operator=(const H5&) = delete;
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

void QuietHdf5() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

// numpy's bool as h5py stores it: an enum over int8, FALSE = 0, TRUE = 1.
hid_t NewBoolType() {
  hid_t t = H5Tenum_create(H5T_NATIVE_INT8);
  int8_t v = 0;
  H5Tenum_insert(t, "FALSE", &v);
  v = 1;
  H5Tenum_insert(t, "TRUE", &v);
  return t;
}

hid_t FileType(DType d) {
  switch (d) {
    case DType::kFloat32: return H5T_IEEE_F32LE;
    case DType::kFloat64: return H5T_IEEE_F64LE;
    case DType::kInt64: return H5T_STD_I64LE;
    case DType::kInt8: return H5T_STD_I8LE;
    case DType::kUInt8: return H5T_STD_U8LE;
  }
  return H5T_STD_I64LE;
}

hid_t MemType(DType d) {
  switch (d) {
    case DType::kFloat32: return H5T_NATIVE_FLOAT;
    case DType::kFloat64: return H5T_NATIVE_DOUBLE;
    case DType::kInt64: return H5T_NATIVE_INT64;
    case DType::kInt8: return H5T_NATIVE_INT8;
    case DType::kUInt8: return H5T_NATIVE_UINT8;
  }
  return H5T_NATIVE_INT64;
}

// Chunked and resizable along the first axis, as h5py's maxshape=(None, ...).
void WriteArray(hid_t group, const char* name, hid_t file_type, hid_t mem_type, const void* data,
                const std::vector<hsize_t>& dims, const std::string& where) {
  const int rank = static_cast<int>(dims.size());
  std::vector<hsize_t> maxdims = dims, chunk = dims;
  maxdims[0] = H5S_UNLIMITED;
  hsize_t row_bytes = H5Tget_size(file_type);
  for (int i = 1; i < rank; ++i) row_bytes *= std::max<hsize_t>(dims[i], 1);
  chunk[0] = std::max<hsize_t>(1, std::min<hsize_t>(dims[0], (1u << 20) / std::max<hsize_t>(row_bytes, 1)));
  for (auto& c : chunk) c = std::max<hsize_t>(c, 1);
  H5 space(H5Screate_simple(rank, dims.data(), maxdims.data()), H5Sclose);
  H5 dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  H5Pset_chunk(dcpl.get(), rank, chunk.data());
  H5 ds(H5Dcreate2(group, name, file_type, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT), H5Dclose);
  RLF_CHECK(ds.ok(), where, ": cannot create dataset '", name, "'");
  if (dims[0] > 0)
    RLF_CHECK(H5Dwrite(ds.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0, where,
              ": cannot write '", name, "' (is the disk full?)");
}

// Image observations as Minari (h5py) writes them: one JPEG per row, a 2-D
// uint8 dataset [rows, bytes] when every frame encodes to the same length,
// else a 1-D dataset of variable-length uint8 sequences.
void WriteJpegFrames(hid_t group, const char* name, const uint8_t* frames, int64_t rows, const Space& os,
                     const std::string& where) {
  const FrameShape f = ImageFrameShape(os);
  std::vector<std::vector<uint8_t>> jpegs(static_cast<size_t>(rows));
  bool same = true;
  for (int64_t r = 0; r < rows; ++r) {
    jpegs[r] = EncodeJpeg(frames + r * f.bytes(), f.height, f.width, f.channels);
    same = same && jpegs[r].size() == jpegs[0].size();
  }
  if (same) {
    std::vector<uint8_t> flat;
    flat.reserve(jpegs[0].size() * jpegs.size());
    for (const auto& j : jpegs) flat.insert(flat.end(), j.begin(), j.end());
    WriteArray(group, name, H5T_STD_U8LE, H5T_NATIVE_UINT8, flat.data(),
               {static_cast<hsize_t>(rows), static_cast<hsize_t>(jpegs[0].size())}, where);
    return;
  }
  std::vector<hvl_t> vl(jpegs.size());
  for (size_t r = 0; r < jpegs.size(); ++r) vl[r].len = jpegs[r].size(), vl[r].p = jpegs[r].data();
  H5 file_type(H5Tvlen_create(H5T_STD_U8LE), H5Tclose);
  H5 mem_type(H5Tvlen_create(H5T_NATIVE_UINT8), H5Tclose);
  WriteArray(group, name, file_type.get(), mem_type.get(), vl.data(), {static_cast<hsize_t>(rows)}, where);
}

void WriteInt64Attribute(hid_t obj, const char* name, int64_t value) {
  H5 space(H5Screate(H5S_SCALAR), H5Sclose);
  H5 a(H5Acreate2(obj, name, H5T_STD_I64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  H5Awrite(a.get(), H5T_NATIVE_INT64, &value);
}

std::vector<hsize_t> Dims(hsize_t rows, const std::vector<int64_t>& shape) {
  std::vector<hsize_t> d{rows};
  for (int64_t s : shape) d.push_back(static_cast<hsize_t>(s));
  return d;
}

// A number as Python's json writes a float: shortest round trip, Infinity.
std::string PyNumber(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  char buf[40];
  for (int p = 15; p <= 17; ++p) {
    std::snprintf(buf, sizeof(buf), "%.*g", p, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  std::string s = buf;
  if (s.find_first_of(".eE") == std::string::npos) s += ".0";
  return s;
}

// Bounds as numpy's tolist(): nested by shape.
std::string NestedList(const std::vector<double>& v, const std::vector<int64_t>& shape, size_t dim, size_t* pos,
                       bool integer) {
  if (dim == shape.size()) {
    const double x = v[(*pos)++];
    return integer && std::isfinite(x) ? std::to_string(static_cast<int64_t>(x)) : PyNumber(x);
  }
  std::string s = "[";
  for (int64_t i = 0; i < shape[dim]; ++i) {
    if (i) s += ", ";
    s += NestedList(v, shape, dim + 1, pos, integer);
  }
  return s + "]";
}

std::string IntList(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}

// Python's json accepts NaN and +-Infinity; nlohmann's parser does not.
// Outside strings, they become the strings "inf", "-inf" and "nan" (numbers
// where Flatten reads them).
std::string SanitizeJson(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < text.size()) out += text[++i];
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    if (text.compare(i, 9, "-Infinity") == 0) {
      out += "\"-inf\"";
      i += 8;
    } else if (text.compare(i, 8, "Infinity") == 0) {
      out += "\"inf\"";
      i += 7;
    } else if (text.compare(i, 3, "NaN") == 0) {
      out += "\"nan\"";
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

json ParseJson(const std::string& text, const std::string& what) {
  try {
    return json::parse(SanitizeJson(text));
  } catch (const json::exception& e) {
    throw InvalidArgument(StrCat(what, ": not valid JSON (", e.what(), ")"));
  }
}

void Flatten(const json& j, std::vector<double>* out) {
  if (j.is_array()) {
    for (const auto& x : j) Flatten(x, out);
  } else if (j.is_string()) {
    const std::string v = j.get<std::string>();
    RLF_CHECK_ARG(v == "inf" || v == "-inf" || v == "nan", "a bound '", v, "' is not a number");
    out->push_back(v == "nan" ? std::nan("") : v == "inf" ? HUGE_VAL : -HUGE_VAL);
  } else {
    out->push_back(j.get<double>());
  }
}

DType ParseDType(const std::string& name) {
  for (DType d : {DType::kFloat32, DType::kFloat64, DType::kInt64, DType::kInt8, DType::kUInt8})
    if (name == DTypeName(d)) return d;
  throw InvalidArgument(StrCat("space dtype '", name, "' is not supported (float32, float64, int64, int8, uint8)"));
}

std::string EnvSpecJson(const DatasetInfo& info) {
  json kwargs = json::object();
  kwargs["env_id"] = info.env_id;
  for (const auto& [k, v] : info.env_kwargs.items()) kwargs[k] = v;
  // The env's reward threshold, as Gymnasium's own specs say theirs. The
  // step limit stays null on purpose: gymnasium.make (and Minari's
  // recover_environment) would wrap the env in a TimeLimit of its own, which
  // hides the env's methods (action_mask()); the env applies its limit itself
  // and its spec says it once made (rlforge.envs.RlforgeEnv.spec).
  json threshold = nullptr;
  const Registry& registry = Registry::Global();
  if (registry.Has(info.env_id))
    if (const auto& t = registry.Spec(info.env_id).reward_threshold) threshold = *t;
  json spec = {{"id", "rlforge/" + info.env_id},
               {"entry_point", kOurEntryPoint},
               {"reward_threshold", threshold},
               {"nondeterministic", false},
               {"max_episode_steps", nullptr},
               {"order_enforce", false},
               {"disable_env_checker", true},
               {"kwargs", kwargs},
               {"additional_wrappers", json::array()},
               {"vector_entry_point", nullptr}};
  return spec.dump();
}

// A Gymnasium kwarg's value as rlforge's kwargs write it: lists of numbers
// "1,0,0", lists of strings (FrozenLake's desc rows) "SFF/FHF/FFG".
std::string KwargText(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  const bool numbers = v.is_array() && !v.empty() && std::all_of(v.begin(), v.end(), [](const json& e) { return e.is_number(); });
  const bool strings = v.is_array() && !v.empty() && std::all_of(v.begin(), v.end(), [](const json& e) { return e.is_string(); });
  if (!numbers && !strings) return v.dump();
  std::string out;
  for (const auto& e : v) out += (out.empty() ? "" : numbers ? "," : "/") + (strings ? e.get<std::string>() : e.dump());
  return out;
}

// Another library's env_spec (Gymnasium's, through Minari): its kwargs are
// kept where rlforge's env of that ID takes them (its envs follow
// Gymnasium's names), tried all together, then one by one; the others are
// reported with why (DatasetInfo::ignored_kwargs). Its step limit is kept
// when it differs from the registered one.
void ReadForeignEnvSpec(const json& spec, const json& kw, DatasetInfo* info) {
  const Registry& registry = Registry::Global();
  const EnvSpec* here = registry.Has(info->env_id) ? &registry.Spec(info->env_id) : nullptr;
  Kwargs taken;
  for (auto it = kw.begin(); it != kw.end(); ++it) {
    if (it.value().is_null() || it.key() == "render_mode") continue;  // the default; rendering is not data
    const std::string value = KwargText(it.value());
    const bool known = here != nullptr && std::any_of(here->kwargs.begin(), here->kwargs.end(),
                                                      [&](const KwargDoc& k) { return k.name == it.key(); });
    if (known) taken.Set(it.key(), value);
    else info->ignored_kwargs.push_back(StrCat(it.key(), "=", value, " (no such kwarg)"));
  }
  if (here == nullptr) return;
  auto makes = [&](const Kwargs& k, std::string* why) {
    try {
      registry.Make(info->env_id, k);
      return true;
    } catch (const std::exception& e) {
      if (why) *why = e.what();
      return false;
    }
  };
  if (!makes(taken, nullptr)) {
    for (const auto& [k, v] : taken.items()) {
      std::string why;
      if (makes(Kwargs{{k, v}}, &why)) info->env_kwargs.Set(k, v);
      else info->ignored_kwargs.push_back(StrCat(k, "=", v, " (a value rlforge's ", info->env_id, " does not take: ", why, ")"));
    }
  } else {
    info->env_kwargs = taken;
  }
  if (spec.contains("max_episode_steps") && spec["max_episode_steps"].is_number_integer()) {
    const int64_t limit = spec["max_episode_steps"].get<int64_t>();
    if (here->max_episode_steps != std::optional<int64_t>(limit))
      info->env_kwargs.Set("max_episode_steps", std::to_string(limit));
  }
}

// The env ID and kwargs an env_spec names: ours carry env_id in kwargs.
void ReadEnvSpec(const std::string& text, DatasetInfo* info, const std::string& where) {
  const json spec = ParseJson(text, where + " env_spec");
  RLF_CHECK(spec.is_object() && spec.contains("id") && spec["id"].is_string(), where, ": env_spec has no id");
  info->env_id = spec["id"].get<std::string>();
  const json kw = spec.contains("kwargs") && spec["kwargs"].is_object() ? spec["kwargs"] : json::object();
  const bool ours = spec.contains("entry_point") && spec["entry_point"].is_string() &&
                    spec["entry_point"].get<std::string>() == kOurEntryPoint && kw.contains("env_id") &&
                    kw["env_id"].is_string();
  info->foreign_env_spec = !ours;
  if (!ours) return ReadForeignEnvSpec(spec, kw, info);
  for (auto it = kw.begin(); it != kw.end(); ++it) {
    if (it.key() == "env_id") info->env_id = it.value().get<std::string>();
    else info->env_kwargs.Set(it.key(), it.value().is_string() ? it.value().get<std::string>() : it.value().dump());
  }
}

// `data_bytes`: the size of main_data.hdf5, which Minari reports in MB
// (its dataset_size, rounded to 0.1).
std::string MetadataJson(const Dataset& d, uint64_t data_bytes) {
  const DatasetInfo& info = d.info;
  json m = json::object();
  m["total_episodes"] = d.episodes();
  m["total_steps"] = d.steps();
  m["data_format"] = "hdf5";
  m["observation_space"] = SerializeSpace(info.observation_space);
  m["action_space"] = SerializeSpace(info.action_space);
  if (!info.env_id.empty()) {
    m["env_spec"] = EnvSpecJson(info);
    m["eval_env_spec"] = EnvSpecJson(info);
  }
  m["dataset_id"] = info.dataset_id;
  m["author"] = json::array({info.author});
  if (!info.algorithm_name.empty()) m["algorithm_name"] = info.algorithm_name;
  if (!info.description.empty()) m["description"] = info.description;
  m["minari_version"] = info.minari_version;
  if (info.ref_min_score && info.ref_max_score) {
    m["ref_min_score"] = *info.ref_min_score;
    m["ref_max_score"] = *info.ref_max_score;
    m["num_episodes_average_score"] = info.num_episodes_average_score;
  }
  m["dataset_size"] = std::round(static_cast<double>(data_bytes) / 1e5) / 10.0;
  return m.dump();
}

void WriteHdf5(const Dataset& d, const std::string& path) {
  QuietHdf5();
  H5 fcpl(H5Pcreate(H5P_FILE_CREATE), H5Pclose);
  H5Pset_link_creation_order(fcpl.get(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
  H5 file(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, fcpl.get(), H5P_DEFAULT), H5Fclose);
  RLF_CHECK(file.ok(), "cannot create ", path);
  H5 bool_type(NewBoolType(), H5Tclose);
  const Space& os = d.info.observation_space;
  const Space& as = d.info.action_space;
  for (int64_t e = 0; e < d.episodes(); ++e) {
    const std::string name = "episode_" + std::to_string(e);
    const std::string where = path + " " + name;
    H5 g(H5Gcreate2(file.get(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
    RLF_CHECK(g.ok(), where, ": cannot create the group");
    const int64_t T = d.episode_length(e), t0 = d.episode_first_step[e], r0 = d.row[t0];
    WriteInt64Attribute(g.get(), "id", e);
    if (d.episode_seed[e] >= 0) WriteInt64Attribute(g.get(), "seed", d.episode_seed[e]);
    WriteInt64Attribute(g.get(), "total_steps", T);
    const hsize_t rows = static_cast<hsize_t>(T + 1), steps = static_cast<hsize_t>(T);
    if (IsMinariImageSpace(os))
      WriteJpegFrames(g.get(), "observations", d.observation(r0), T + 1, os, where);
    else
      WriteArray(g.get(), "observations", FileType(os.dtype()), MemType(os.dtype()), d.observation(r0),
                 Dims(rows, os.shape()), where);
    std::vector<int64_t> act_shape = as.shape();
    if (as.kind() == SpaceKind::kMultiDiscrete || as.kind() == SpaceKind::kMultiBinary) act_shape = {as.size()};
    WriteArray(g.get(), "actions", FileType(as.dtype()), MemType(as.dtype()), d.action(t0), Dims(steps, act_shape),
               where);
    WriteArray(g.get(), "rewards", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, d.rewards.data() + t0, {steps}, where);
    WriteArray(g.get(), "terminations", bool_type.get(), bool_type.get(), d.terminated.data() + t0, {steps}, where);
    WriteArray(g.get(), "truncations", bool_type.get(), bool_type.get(), d.truncated.data() + t0, {steps}, where);
    H5 infos(H5Gcreate2(g.get(), "infos", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
    if (d.mask_size > 0)
      WriteArray(infos.get(), "action_mask", bool_type.get(), bool_type.get(), d.masks.data() + r0 * d.mask_size,
                 {rows, static_cast<hsize_t>(d.mask_size)}, where);
  }
  RLF_CHECK(H5Fflush(file.get(), H5F_SCOPE_GLOBAL) >= 0, "cannot write ", path, " (is the disk full?)");
}

// ---- Reading ----------------------------------------------------------------

struct Array {
  std::vector<hsize_t> dims;
  std::vector<uint8_t> bytes;
};

// The dataset `name` of `group` converted to mem_type (bool_like: any
// 1-byte enum or integer, read as 0/1 bytes). Empty dims when absent.
Array ReadArray(hid_t group, const char* name, hid_t mem_type, bool bool_like, const std::string& where) {
  Array a;
  if (H5Lexists(group, name, H5P_DEFAULT) <= 0) return a;
  H5 ds(H5Dopen2(group, name, H5P_DEFAULT), H5Dclose);
  RLF_CHECK(ds.ok(), where, ": '", name, "' is not a dataset");
  H5 space(H5Dget_space(ds.get()), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(space.get());
  RLF_CHECK(rank >= 1, where, ": '", name, "' has no rows");
  a.dims.resize(static_cast<size_t>(rank));
  H5Sget_simple_extent_dims(space.get(), a.dims.data(), nullptr);
  hsize_t n = 1;
  for (hsize_t x : a.dims) {
    RLF_CHECK(x == 0 || n <= (hsize_t{1} << 40) / x, where, ": '", name, "' declares more elements than fit in memory");
    n *= x;
  }
  H5 ftype(H5Dget_type(ds.get()), H5Tclose);
  std::unique_ptr<H5> native;
  hid_t read_type = mem_type;
  if (bool_like) {
    const H5T_class_t cls = H5Tget_class(ftype.get());
    if (cls == H5T_ENUM && H5Tget_size(ftype.get()) == 1) {
      native = std::make_unique<H5>(H5Tget_native_type(ftype.get(), H5T_DIR_ASCEND), H5Tclose);
      read_type = native->get();
    } else {
      RLF_CHECK(cls == H5T_INTEGER, where, ": '", name, "' is not boolean");
      read_type = H5T_NATIVE_UINT8;
    }
  } else {
    const H5T_class_t cls = H5Tget_class(ftype.get());
    RLF_CHECK(cls == H5T_INTEGER || cls == H5T_FLOAT, where, ": '", name, "' is not numeric");
    if (cls == H5T_FLOAT && H5Tget_class(mem_type) == H5T_INTEGER && n > 0) {
      // Floats read as integers (Discrete actions or observations stored as
      // float): HDF5 would truncate 1.5 to 1, so each must be whole.
      RLF_CHECK(n <= (hsize_t{1} << 37), where, ": '", name, "' is larger than 1 TiB");
      std::vector<double> values(static_cast<size_t>(n));
      RLF_CHECK(H5Dread(ds.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) >= 0, where,
                ": cannot read '", name, "'");
      for (size_t i = 0; i < values.size(); ++i)
        RLF_CHECK(std::isfinite(values[i]) && values[i] == std::floor(values[i]) && std::abs(values[i]) < 9.0e15,
                  where, ": '", name, "' holds ", values[i], " (element ", i,
                  ") where its space takes whole numbers (stored as float, it is not one)");
    }
  }
  RLF_CHECK(n * H5Tget_size(read_type) <= (hsize_t{1} << 40), where, ": '", name, "' is larger than 1 TiB");
  a.bytes.resize(static_cast<size_t>(n * H5Tget_size(read_type)));
  if (n > 0)
    RLF_CHECK(H5Dread(ds.get(), read_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, a.bytes.data()) >= 0, where,
              ": cannot read '", name, "'");
  if (bool_like)
    for (auto& b : a.bytes) b = b != 0;
  return a;
}

// Image observations stored as JPEG frames (a 2-D uint8 dataset, one frame
// per row, or variable-length uint8 sequences), decoded to [rows, shape...];
// raw arrays (rank 1 + the space's) are read as they are. Empty dims when
// absent. With `rows_wanted` > 0 (T + 1 from the rewards) JPEG frames are
// decoded only when there are that many (else only dims are given, for the
// caller's shape check), so a damaged row count allocates nothing.
Array ReadObservations(hid_t group, const Space& os, const std::string& where, hsize_t rows_wanted) {
  const char* name = "observations";
  if (!IsMinariImageSpace(os) || H5Lexists(group, name, H5P_DEFAULT) <= 0)
    return ReadArray(group, name, MemType(os.dtype()), false, where);
  H5 ds(H5Dopen2(group, name, H5P_DEFAULT), H5Dclose);
  RLF_CHECK(ds.ok(), where, ": '", name, "' is not a dataset");
  H5 ftype(H5Dget_type(ds.get()), H5Tclose);
  const bool vlen = H5Tget_class(ftype.get()) == H5T_VLEN;
  H5 file_space(H5Dget_space(ds.get()), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(file_space.get());
  if (!vlen && rank != 2) return ReadArray(group, name, MemType(os.dtype()), false, where);
  RLF_CHECK_ARG(!vlen || rank == 1, where, ": variable-length observations are not 1-D");
  hsize_t file_dims[2] = {0, 0};
  H5Sget_simple_extent_dims(file_space.get(), file_dims, nullptr);
  const FrameShape f = ImageFrameShape(os);
  RLF_CHECK_ARG(f.channels == 1 || f.channels == 3, where, ": JPEG observations of ", f.channels,
                " channels (1 or 3 are readable)");
  const size_t frame_bytes = f.bytes();
  Array out;
  if (rows_wanted > 0 && file_dims[0] != rows_wanted) {
    out.dims = Dims(file_dims[0], os.shape());  // the caller names the mismatch
    return out;
  }
  RLF_CHECK_ARG(vlen || file_dims[1] <= 4 * frame_bytes + 65536, where, ": JPEG frames of ", file_dims[1],
                " bytes for images of ", frame_bytes, " (damaged?)");
  auto decode = [&](hsize_t r, const uint8_t* bytes, size_t n) {
    DecodeJpeg(bytes, n, f.height, f.width, f.channels, out.bytes.data() + r * frame_bytes,
               StrCat(where, ": observation ", r));
  };
  auto size_out = [&](hsize_t rows) {
    RLF_CHECK_ARG(rows <= (hsize_t{1} << 40) / frame_bytes, where, ": too many JPEG observations (", rows, ")");
    out.dims = Dims(rows, os.shape());
    out.bytes.resize(static_cast<size_t>(rows) * frame_bytes);
  };
  if (vlen) {
    const hsize_t rows = file_dims[0];
    size_out(rows);
    H5 mem_type(H5Tvlen_create(H5T_NATIVE_UINT8), H5Tclose);
    std::vector<hvl_t> vl(static_cast<size_t>(rows));
    RLF_CHECK_ARG(rows == 0 || H5Dread(ds.get(), mem_type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, vl.data()) >= 0,
                  where, ": cannot read '", name, "' as variable-length bytes");
    try {
      for (hsize_t r = 0; r < rows; ++r) decode(r, static_cast<const uint8_t*>(vl[r].p), vl[r].len);
    } catch (...) {
      H5Dvlen_reclaim(mem_type.get(), file_space.get(), H5P_DEFAULT, vl.data());
      throw;
    }
    H5Dvlen_reclaim(mem_type.get(), file_space.get(), H5P_DEFAULT, vl.data());
    return out;
  }
  const Array raw = ReadArray(group, name, H5T_NATIVE_UINT8, false, where);
  const hsize_t rows = raw.dims[0], n = raw.dims[1];
  size_out(rows);
  for (hsize_t r = 0; r < rows; ++r) decode(r, raw.bytes.data() + r * n, static_cast<size_t>(n));
  return out;
}

std::string DimsString(const std::vector<hsize_t>& d) {
  std::string s = "(";
  for (size_t i = 0; i < d.size(); ++i) s += (i ? ", " : "") + std::to_string(d[i]);
  return s + (d.size() == 1 ? ",)" : ")");
}

// Whether dims are [rows] + shape (a one-element shape may also be absent
// for scalars stored as [rows, 1]).
bool ShapeIs(const std::vector<hsize_t>& dims, hsize_t rows, const std::vector<int64_t>& shape) {
  if (dims.empty() || dims[0] != rows) return false;
  std::vector<hsize_t> want;
  for (int64_t s : shape) want.push_back(static_cast<hsize_t>(s));
  const std::vector<hsize_t> rest(dims.begin() + 1, dims.end());
  if (rest == want) return true;
  return want.empty() && rest == std::vector<hsize_t>{1};
}

herr_t CollectLink(hid_t, const char* name, const H5L_info_t*, void* out) {
  static_cast<std::vector<std::string>*>(out)->push_back(name);
  return 0;
}

}  // namespace

uint64_t HashBytes(const void* data, size_t n, uint64_t h) {
  const auto* p = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ULL;
  return h;
}

// ---- Spaces -----------------------------------------------------------------

std::string SerializeSpace(const Space& s) {
  switch (s.kind()) {
    case SpaceKind::kDiscrete:
      return StrCat(R"({"type": "Discrete", "dtype": "int64", "start": )", s.start(), R"(, "n": )", s.n(), "}");
    case SpaceKind::kMultiDiscrete:
      return StrCat(R"({"type": "MultiDiscrete", "dtype": "int64", "nvec": )", IntList(s.nvec()),
                    R"(, "start": )", IntList(std::vector<int64_t>(s.nvec().size(), 0)), "}");
    case SpaceKind::kMultiBinary:
      return StrCat(R"({"type": "MultiBinary", "n": )", s.size(), "}");
    case SpaceKind::kBox: {
      const bool integer = s.dtype() != DType::kFloat32 && s.dtype() != DType::kFloat64;
      size_t p = 0, q = 0;
      return StrCat(R"({"type": "Box", "dtype": ")", DTypeName(s.dtype()), R"(", "shape": )", IntList(s.shape()),
                    R"(, "low": )", NestedList(s.low(), s.shape(), 0, &p, integer), R"(, "high": )",
                    NestedList(s.high(), s.shape(), 0, &q, integer), "}");
    }
  }
  return "{}";
}

Space DeserializeSpace(const std::string& text) {
  const json j = ParseJson(text, "space");
  RLF_CHECK_ARG(j.is_object() && j.contains("type") && j["type"].is_string(), "space JSON has no type: ",
                text.substr(0, 80));
  const std::string type = j["type"].get<std::string>();
  try {
    if (type == "Discrete") return Space::Discrete(j.at("n").get<int64_t>(), j.value("start", int64_t{0}));
    if (type == "MultiDiscrete") {
      const auto nvec = j.at("nvec").get<std::vector<int64_t>>();
      if (j.contains("start"))
        for (int64_t s : j["start"].get<std::vector<int64_t>>())
          RLF_CHECK_ARG(s == 0, "MultiDiscrete spaces with a nonzero start are not supported");
      return Space::MultiDiscrete(nvec);
    }
    if (type == "MultiBinary") {
      const json& n = j.at("n");
      return Space::MultiBinary(n.is_array() ? n.at(0).get<int64_t>() : n.get<int64_t>());
    }
    if (type == "Box") {
      std::vector<double> low, high;
      Flatten(j.at("low"), &low);
      Flatten(j.at("high"), &high);
      return Space::Box(low, high, j.at("shape").get<std::vector<int64_t>>(), ParseDType(j.at("dtype")));
    }
  } catch (const json::exception& e) {
    throw InvalidArgument(StrCat("space JSON of type ", type, " is malformed (", e.what(), ")"));
  }
  throw InvalidArgument(StrCat("space type '", type, "' is not supported (Discrete, Box, MultiDiscrete, MultiBinary)"));
}

// ---- Dataset ----------------------------------------------------------------

std::string Dataset::WhereStep(int64_t t) const {
  const auto e = std::upper_bound(episode_first_step.begin(), episode_first_step.end(), t) - episode_first_step.begin() - 1;
  return e < 0 ? StrCat("step ", t) : StrCat("episode ", e, ", step ", t - episode_first_step[e]);
}

std::string Dataset::WhereRow(int64_t row_index) const {
  // Episode e's T + 1 rows start at row episode_first_step[e] + e.
  int64_t e = -1;
  for (int64_t lo = 0, hi = episodes() - 1; lo <= hi;) {
    const int64_t mid = (lo + hi) / 2;
    if (episode_first_step[mid] + mid <= row_index) e = mid, lo = mid + 1;
    else hi = mid - 1;
  }
  return e < 0 ? StrCat("observation row ", row_index)
               : StrCat("episode ", e, ", observation ", row_index - episode_first_step[e] - e);
}

std::vector<double> Dataset::EpisodeReturns() const {
  std::vector<double> r(static_cast<size_t>(episodes()), 0.0);
  for (int64_t e = 0; e < episodes(); ++e) {
    const int64_t t0 = episode_first_step[e];
    for (int64_t t = t0; t < t0 + episode_length(e); ++t) r[e] += rewards[t];
  }
  return r;
}

Dataset Dataset::Empty(DatasetInfo info, int64_t mask_size) {
  Dataset d;
  d.obs_bytes = static_cast<int64_t>(info.observation_space.nbytes());
  d.act_bytes = static_cast<int64_t>(info.action_space.nbytes());
  d.mask_size = mask_size;
  d.info = std::move(info);
  return d;
}

void Dataset::AddEpisode(const uint8_t* o, const uint8_t* m, const uint8_t* a, const double* r, const uint8_t* term,
                         const uint8_t* trunc, int64_t T, int64_t seed) {
  RLF_CHECK_ARG(T >= 1, "an episode needs at least one step, got ", T);
  RLF_CHECK_ARG(mask_size == 0 || m != nullptr, "this dataset keeps action masks: the episode needs them");
  const int64_t first_row = rows();
  episode_first_step.push_back(steps());
  episode_seed.push_back(seed);
  obs.insert(obs.end(), o, o + (T + 1) * obs_bytes);
  if (mask_size > 0) masks.insert(masks.end(), m, m + (T + 1) * mask_size);
  actions.insert(actions.end(), a, a + T * act_bytes);
  rewards.insert(rewards.end(), r, r + T);
  terminated.insert(terminated.end(), term, term + T);
  truncated.insert(truncated.end(), trunc, trunc + T);
  for (int64_t t = 0; t < T; ++t) row.push_back(first_row + t);
}

void CheckStorableObservations(const Space& os, const std::string& env_id) {
  if (!IsMinariImageSpace(os)) return;
  const int c = ImageFrameShape(os).channels;
  RLF_CHECK_ARG(c == 1 || c == 3, env_id, " has image observations of ", c,
                " channels: Minari stores image frames as JPEG, which takes 1 (grayscale) or 3 (RGB)");
}

std::string WhyBadReferenceScores(const DatasetInfo& info) {
  const auto& lo = info.ref_min_score;
  const auto& hi = info.ref_max_score;
  if (!lo && !hi) return "";
  if (!lo || !hi) return "only one reference score is given (Minari keeps both or neither)";
  if (!std::isfinite(*lo) || !std::isfinite(*hi) || !(*hi > *lo))
    return StrCat("the reference scores must be finite with the maximum above the minimum, got min ", *lo, ", max ",
                  *hi);
  return "";
}

void WriteDataset(const Dataset& d, const std::string& dir) {
  CheckStorableObservations(d.info.observation_space, d.info.env_id);
  const std::string bad_scores = WhyBadReferenceScores(d.info);
  RLF_CHECK_ARG(bad_scores.empty(), "dataset ", dir, ": ", bad_scores);
  RLF_CHECK_ARG(!fs::exists(fs::path(dir) / kMetadataFile), "dataset directory ", dir,
                " already holds a dataset (metadata.json): choose another --out or delete it");
  std::error_code ec;
  fs::create_directories(dir, ec);
  RLF_CHECK(!ec, "cannot create ", dir, ": ", ec.message());
  const std::string data = (fs::path(dir) / kDataFile).string(), tmp = data + ".tmp";
  try {
    WriteHdf5(d, tmp);
  } catch (...) {
    fs::remove(tmp, ec);
    throw;
  }
  fs::rename(tmp, data, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw Error(StrCat("cannot rename ", tmp, ": ", ec.message()));
  }
  // metadata.json last: a dataset without it is not a dataset.
  WriteFileAtomically((fs::path(dir) / kMetadataFile).string(), MetadataJson(d, fs::file_size(data)));
}

DatasetInfo ReadDatasetInfo(const std::string& dir, int64_t* total_episodes_out, int64_t* total_steps_out) {
  const std::string meta_path = (fs::path(dir) / kMetadataFile).string();
  RLF_CHECK_ARG(fs::exists(dir), "dataset ", dir, " does not exist");
  RLF_CHECK_ARG(fs::is_directory(dir), "dataset ", dir, " is not a directory");
  // Minari keeps a dataset's files in <root>/<id>/data.
  RLF_CHECK_ARG(fs::exists(meta_path) || !fs::exists(fs::path(dir) / "data" / kMetadataFile), "dataset ", dir,
                " has no metadata.json, but its data/ directory has: give ", (fs::path(dir) / "data").string());
  RLF_CHECK_ARG(fs::exists(meta_path), "dataset ", dir, " has no metadata.json (not a Minari dataset)");
  // A FIFO or device would block the read (or never end).
  RLF_CHECK_ARG(fs::is_regular_file(meta_path), meta_path, " is not a regular file");
  const json m = ParseJson(ReadWholeFile(meta_path, "dataset metadata"), meta_path);
  RLF_CHECK_ARG(m.is_object(), meta_path, ": not a JSON object");
  DatasetInfo info;
  auto string_field = [&](const char* key) -> std::string {
    if (!m.contains(key) || m[key].is_null()) return "";
    RLF_CHECK_ARG(m[key].is_string(), meta_path, ": '", key, "' is not a string");
    return m[key].get<std::string>();
  };
  const std::string format = string_field("data_format");
  RLF_CHECK_ARG(format.empty() || format == "hdf5", meta_path, ": data_format '", format,
                "' is not supported (hdf5)");
  for (const char* key : {"observation_space", "action_space"})
    RLF_CHECK_ARG(m.contains(key), meta_path, ": no '", key, "'");
  try {
    info.observation_space = DeserializeSpace(string_field("observation_space"));
    info.action_space = DeserializeSpace(string_field("action_space"));
  } catch (const Error& e) {
    throw InvalidArgument(StrCat(meta_path, ": ", e.what()));
  }
  info.dataset_id = string_field("dataset_id");
  info.algorithm_name = string_field("algorithm_name");
  info.description = string_field("description");
  info.minari_version = string_field("minari_version");
  if (m.contains("author") && m["author"].is_array() && !m["author"].empty() && m["author"][0].is_string())
    info.author = m["author"][0].get<std::string>();
  const std::string spec = string_field("env_spec");
  try {
    if (!spec.empty()) ReadEnvSpec(spec, &info, meta_path);
  } catch (const nlohmann::json::exception& e) {
    throw InvalidArgument(StrCat(meta_path, ": env_spec is malformed (", e.what(), ")"));
  }
  auto number = [&](const char* key) -> std::optional<double> {
    if (!m.contains(key) || m[key].is_null()) return std::nullopt;
    // A number written as text ("500") was read as absent, and then misjudged.
    RLF_CHECK_ARG(m[key].is_number(), meta_path, ": '", key, "' must be a number (or null), got ", m[key].type_name(),
                  " ", m[key].dump());
    return m[key].get<double>();
  };
  auto count = [&](const char* key) -> int64_t {  // -1: absent
    const std::optional<double> v = number(key);
    if (!v) return -1;
    RLF_CHECK_ARG(*v >= 0 && *v <= 1e15 && *v == std::floor(*v), meta_path, ": '", key,
                  "' must be a whole number in 0..1e15, got ", *v);
    return static_cast<int64_t>(*v);
  };
  info.ref_min_score = number("ref_min_score");
  info.ref_max_score = number("ref_max_score");
  info.num_episodes_average_score = std::max<int64_t>(0, count("num_episodes_average_score"));
  const int64_t total_episodes = count("total_episodes");
  const int64_t total_steps = count("total_steps");
  if (total_episodes_out) *total_episodes_out = total_episodes;
  if (total_steps_out) *total_steps_out = total_steps;
  return info;
}

Dataset ReadDataset(const std::string& dir, std::vector<std::string>* problems) {
  int64_t total_episodes = -1, total_steps = -1;
  const DatasetInfo info = ReadDatasetInfo(dir, &total_episodes, &total_steps);
  const std::string meta_path = (fs::path(dir) / kMetadataFile).string();
  QuietHdf5();
  const std::string path = (fs::path(dir) / kDataFile).string();
  RLF_CHECK_ARG(fs::exists(path), "dataset ", dir, " has no ", kDataFile);
  RLF_CHECK_ARG(fs::is_regular_file(path), path, " is not a regular file");
  H5 file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  RLF_CHECK_ARG(file.ok(), path, ": not an HDF5 file (or damaged)");
  std::vector<std::string> names;
  H5Literate(file.get(), H5_INDEX_NAME, H5_ITER_NATIVE, nullptr, CollectLink, &names);
  std::vector<std::pair<int64_t, std::string>> groups;  // (episode number, group name)
  for (const auto& n : names) {
    if (n.rfind("episode_", 0) != 0 || n.size() == 8 || n.size() > 8 + 18 ||
        n.find_first_not_of("0123456789", 8) != std::string::npos)
      continue;
    groups.emplace_back(std::stoll(n.substr(8)), n);
  }
  std::sort(groups.begin(), groups.end());
  auto problem = [&](const std::string& text) {
    if (problems == nullptr) throw InvalidArgument(text);  // a damaged dataset is bad input
    problems->push_back(text);
  };
  if (total_episodes >= 0 && total_episodes != static_cast<int64_t>(groups.size()))
    problem(StrCat(meta_path, ": total_episodes is ", total_episodes, " but ", path, " holds ", groups.size(),
                   " episode groups"));

  const Space& os = info.observation_space;
  const Space& as = info.action_space;
  const int64_t mask_size = as.mask_size();
  Dataset d = Dataset::Empty(info, 0);
  bool masks_known = false;
  std::vector<uint8_t> no_mask;
  for (const auto& [id, name] : groups) {
    const std::string where = StrCat(path, " ", name);
    H5 g(H5Gopen2(file.get(), name.c_str(), H5P_DEFAULT), H5Gclose);
    if (!g.ok()) {
      problem(where + ": not a group");
      continue;
    }
    // Damage inside an episode (a field of the wrong kind, an absurd size)
    // is that episode's problem.
    try {
    const Array rew = ReadArray(g.get(), "rewards", H5T_NATIVE_DOUBLE, false, where);
    const Array obs = ReadObservations(g.get(), os, where, rew.dims.size() == 1 ? rew.dims[0] + 1 : 0);
    const Array act = ReadArray(g.get(), "actions", MemType(as.dtype()), false, where);
    const Array term = ReadArray(g.get(), "terminations", 0, true, where);
    const Array trunc = ReadArray(g.get(), "truncations", 0, true, where);
    Array mask;
    if (mask_size > 0 && H5Lexists(g.get(), "infos", H5P_DEFAULT) > 0) {
      H5 infos(H5Gopen2(g.get(), "infos", H5P_DEFAULT), H5Gclose);
      if (infos.ok()) mask = ReadArray(infos.get(), "action_mask", 0, true, where + "/infos");
    }
    bool bad = false;
    std::vector<std::string> missing;  // one problem per episode, however many fields it lacks
    for (const auto& [field, arr] : {std::pair<const char*, const Array*>{"observations", &obs},
                                     {"actions", &act}, {"rewards", &rew}, {"terminations", &term},
                                     {"truncations", &trunc}})
      if (arr->dims.empty()) missing.push_back(StrCat("'", field, "'"));
    if (!missing.empty()) {
      problem(StrCat(where, ": missing field", missing.size() > 1 ? "s " : " ", Join(missing, ", ")));
      continue;
    }
    const hsize_t T = rew.dims[0];
    std::vector<int64_t> act_shape = as.shape();
    if (as.kind() == SpaceKind::kMultiDiscrete || as.kind() == SpaceKind::kMultiBinary) act_shape = {as.size()};
    if (T == 0) bad = true, problem(where + ": an episode of 0 steps");
    else if (!ShapeIs(obs.dims, T + 1, os.shape()))
      bad = true, problem(StrCat(where, ": observations are ", DimsString(obs.dims), ", want ",
                                 DimsString(Dims(T + 1, os.shape())), " (T + 1 rows of the observation space)"));
    else if (!ShapeIs(act.dims, T, act_shape))
      bad = true, problem(StrCat(where, ": actions are ", DimsString(act.dims), ", want ",
                                 DimsString(Dims(T, act_shape))));
    else if (rew.dims.size() != 1 || term.dims != rew.dims || trunc.dims != rew.dims)
      bad = true, problem(StrCat(where, ": rewards ", DimsString(rew.dims), ", terminations ", DimsString(term.dims),
                                 " and truncations ", DimsString(trunc.dims), " differ"));
    if (bad) continue;
    const bool has_mask = !mask.dims.empty();
    if (has_mask && mask.dims != std::vector<hsize_t>{T + 1, static_cast<hsize_t>(mask_size)}) {
      problem(StrCat(where, ": infos/action_mask is ", DimsString(mask.dims), ", want ",
                     DimsString({T + 1, static_cast<hsize_t>(mask_size)})));
      continue;
    }
    if (!masks_known) {
      masks_known = true;
      if (has_mask) d.mask_size = mask_size;
    } else if (has_mask != (d.mask_size > 0)) {
      problem(StrCat(where, ": infos/action_mask is ", has_mask ? "present" : "absent",
                     " unlike in the episodes before it"));
      continue;
    }
    int64_t seed = -1;
    if (H5Aexists(g.get(), "seed") > 0) {
      H5 a(H5Aopen(g.get(), "seed", H5P_DEFAULT), H5Aclose);
      H5Aread(a.get(), H5T_NATIVE_INT64, &seed);
    }
    d.AddEpisode(obs.bytes.data(), has_mask ? mask.bytes.data() : nullptr, act.bytes.data(),
                 reinterpret_cast<const double*>(rew.bytes.data()), term.bytes.data(), trunc.bytes.data(),
                 static_cast<int64_t>(T), seed);
    } catch (const Error& e) {
      problem(e.what());
    } catch (const std::bad_alloc&) {
      problem(where + ": an episode too large to read into memory (damaged sizes?)");
    }
  }
  if (total_steps >= 0 && total_steps != d.steps() && (problems == nullptr || problems->empty()))
    problem(StrCat(meta_path, ": total_steps is ", total_steps, " but the episodes hold ", d.steps()));
  RLF_CHECK_ARG(d.steps() > 0 || problems != nullptr, "dataset ", dir, " holds no steps");
  return d;
}

// ---- Recording --------------------------------------------------------------

Dataset RecordDataset(VectorEnv& envs, Policy& policy, const RecordOptions& o, DatasetInfo info) {
  RLF_CHECK_ARG(o.episodes >= 1, "episodes must be >= 1, got ", o.episodes);
  RLF_CHECK_ARG(o.epsilon >= 0 && o.epsilon <= 1, "epsilon must be in [0, 1], got ", o.epsilon);
  RLF_CHECK_ARG(envs.env(0).num_players() == 1 && envs.num_agents() == 1, envs.env(0).name(),
                " is a multi-player game: recording plays single-agent envs");
  const int n = envs.num_envs();
  const Space& os = envs.single_observation_space();
  const Space& as = envs.single_action_space();
  info.observation_space = os;
  info.action_space = as;
  const int64_t ob = static_cast<int64_t>(os.nbytes()), ab = static_cast<int64_t>(as.nbytes());
  const int64_t mb = envs.mask_size();
  Dataset d = Dataset::Empty(std::move(info), mb);
  RandomPolicy noise(as, o.seed ^ 0xE951ULL, /*use_masks=*/true);
  if (envs.has_conditional_action_mask()) {
    policy.set_conditional_mask(envs.conditional_mask_fn());
    noise.set_conditional_mask(envs.conditional_mask_fn());
  }
  Rng rng(o.seed ^ 0x5EC0DULL);

  struct Episode {
    std::vector<uint8_t> obs, masks, actions, term, trunc;
    std::vector<double> rewards;
    int64_t seed = -1;
  };
  std::vector<Episode> current(n);
  std::vector<int64_t> quota(n), done(n, 0);
  for (int i = 0; i < n; ++i) quota[i] = o.episodes / n + (i < o.episodes % n ? 1 : 0);
  std::vector<uint8_t> actions(static_cast<size_t>(n * ab)), random_actions(actions.size());
  std::vector<uint8_t> starting(n, 1);
  envs.Reset(o.seed);
  for (int i = 0; i < n; ++i) current[i].seed = static_cast<int64_t>(o.seed) + i;
  policy.StartEpisodes(starting.data(), n);
  auto push_obs = [&](Episode& ep, const uint8_t* obs, const uint8_t* mask) {
    ep.obs.insert(ep.obs.end(), obs, obs + ob);
    if (mb > 0) ep.masks.insert(ep.masks.end(), mask, mask + mb);
  };
  const auto* obs0 = static_cast<const uint8_t*>(envs.observations());
  for (int i = 0; i < n; ++i) push_obs(current[i], obs0 + i * ob, mb ? envs.action_masks() + i * mb : nullptr);
  while (d.episodes() < o.episodes) {
    policy.Act(envs.observations(), envs.action_masks(), n, actions.data());
    if (o.epsilon > 0) {
      noise.Act(envs.observations(), envs.action_masks(), n, random_actions.data());
      for (int i = 0; i < n; ++i)
        if (rng.Uniform() < o.epsilon) std::memcpy(&actions[i * ab], &random_actions[i * ab], ab);
    }
    envs.Step(actions.data());
    const auto* obs = static_cast<const uint8_t*>(envs.observations());
    const auto* final_obs = static_cast<const uint8_t*>(envs.final_observations());
    for (int i = 0; i < n; ++i) {
      Episode& ep = current[i];
      ep.actions.insert(ep.actions.end(), &actions[i * ab], &actions[i * ab] + ab);
      ep.rewards.push_back(envs.rewards()[i]);
      ep.term.push_back(envs.terminated()[i]);
      ep.trunc.push_back(envs.truncated()[i]);
      starting[i] = envs.terminated()[i] || envs.truncated()[i];
      if (!starting[i]) {
        push_obs(ep, obs + i * ob, mb ? envs.action_masks() + i * mb : nullptr);
        continue;
      }
      push_obs(ep, final_obs + i * ob, mb ? envs.final_action_masks() + i * mb : nullptr);
      if (done[i] < quota[i]) {
        ++done[i];
        d.AddEpisode(ep.obs.data(), ep.masks.data(), ep.actions.data(), ep.rewards.data(), ep.term.data(),
                     ep.trunc.data(), static_cast<int64_t>(ep.rewards.size()), ep.seed);
      }
      ep = Episode{};
      push_obs(ep, obs + i * ob, mb ? envs.action_masks() + i * mb : nullptr);
    }
    policy.StartEpisodes(starting.data(), n);
  }
  return d;
}

}  // namespace rlforge
