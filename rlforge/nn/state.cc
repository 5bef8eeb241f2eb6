#include "rlforge/nn/state.h"

#include <sstream>

#include "rlforge/core/error.h"

namespace rlforge {
namespace {

std::string ShapeText(c10::IntArrayRef sizes) {
  std::vector<int64_t> s(sizes.begin(), sizes.end());
  return "[" + Join(s, ", ") + "]";
}

void WriteTensor(StateWriter& w, const torch::Tensor& t) {
  const auto c = t.detach().contiguous().cpu();
  w(static_cast<int32_t>(c.scalar_type()));
  std::vector<int64_t> sizes(c.sizes().begin(), c.sizes().end());
  w(sizes);
  w(static_cast<uint64_t>(c.nbytes()));
  w.Raw(c.data_ptr(), c.nbytes());
}

// A tensor as WriteTensor stored it (a new CPU tensor).
torch::Tensor ReadTensor(StateReader& r) {
  int32_t type = 0;
  std::vector<int64_t> sizes;
  uint64_t nbytes = 0;
  r(type), r(sizes), r(nbytes);
  auto t = torch::empty(sizes, torch::TensorOptions().dtype(static_cast<c10::ScalarType>(type)));
  RLF_CHECK(static_cast<uint64_t>(t.nbytes()) == nbytes, "a stored tensor of shape ", ShapeText(t.sizes()),
            " has ", nbytes, " bytes");
  r.Raw(t.data_ptr(), nbytes);
  return t;
}

std::vector<std::pair<std::string, torch::Tensor>> NamedTensors(torch::nn::Module& m) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& p : m.named_parameters()) out.emplace_back(p.key(), p.value());
  for (const auto& b : m.named_buffers()) out.emplace_back(b.key(), b.value());
  return out;
}

}  // namespace

void VisitModule(StateVisitor& v, const std::string& name, torch::nn::Module& module) {
  auto tensors = NamedTensors(module);
  std::string bytes;
  if (!v.loading()) {
    StateWriter w(&bytes);
    w(static_cast<uint64_t>(tensors.size()));
    for (const auto& [key, t] : tensors) {
      if (t.is_floating_point() && !torch::isfinite(t).all().item<bool>())
        throw Error(StrCat("parameter '", name, ".", key,
                           "' is not finite; not writing a checkpoint (the last one is kept)"));
      w(key);
      WriteTensor(w, t);
    }
  }
  v.Bytes(name, &bytes);
  if (!v.loading()) return;
  StateReader r(bytes, "network '" + name + "'");
  uint64_t n = 0;
  r(n);
  RLF_CHECK(n == tensors.size(), "network '", name, "' has ", n, " tensors in the checkpoint and ", tensors.size(),
            " in this configuration");
  torch::NoGradGuard no_grad;
  for (auto& [key, t] : tensors) {
    std::string stored_key;
    r(stored_key);
    RLF_CHECK(stored_key == key, "network '", name, "': the checkpoint has '", stored_key, "' where this configuration has '",
              key, "'");
    const torch::Tensor stored = ReadTensor(r);
    RLF_CHECK(stored.sizes() == t.sizes() && stored.scalar_type() == t.scalar_type(), "network '", name, "': '", key,
              "' is ", ShapeText(stored.sizes()), " in the checkpoint and ", ShapeText(t.sizes()),
              " in this configuration");
    t.copy_(stored);
  }
  r.ExpectEnd();
}

void VisitOptimizer(StateVisitor& v, const std::string& name, torch::optim::Optimizer& optimizer) {
  std::string bytes;
  if (!v.loading()) {
    torch::serialize::OutputArchive archive;
    optimizer.save(archive);
    archive.save_to([&bytes](const void* data, size_t n) -> size_t {
      bytes.append(static_cast<const char*>(data), n);
      return n;
    });
  }
  v.Bytes(name, &bytes);
  if (!v.loading()) return;
  torch::serialize::InputArchive archive;
  archive.load_from(bytes.data(), bytes.size());
  optimizer.load(archive);
}

void VisitGenerator(StateVisitor& v, const std::string& name, torch::Generator* generator) {
  torch::Tensor state;
  if (!v.loading()) state = generator->get_state();
  VisitTensor(v, name, &state);
  if (v.loading()) generator->set_state(state);
}

void VisitParameter(StateVisitor& v, const std::string& name, torch::Tensor& param) {
  torch::NoGradGuard g;
  torch::Tensor t = param.detach().clone();
  VisitTensor(v, name, &t);
  if (v.loading()) param.copy_(t);
}

void VisitTensor(StateVisitor& v, const std::string& name, torch::Tensor* tensor) {
  std::string bytes;
  if (!v.loading()) {
    StateWriter w(&bytes);
    WriteTensor(w, *tensor);
  }
  v.Bytes(name, &bytes);
  if (!v.loading()) return;
  StateReader r(bytes, "tensor '" + name + "'");
  *tensor = ReadTensor(r);
  r.ExpectEnd();
}

}  // namespace rlforge
