// Data-parallel communication through PyTorch's own c10d: a rendezvous store (TCPStore or
// FileStore), a Gloo process group (NCCL where LibTorch was built with it) and its collectives.
// Groups and pending operations are kept here by number; JS holds the numbers.
#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef USE_C10D_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef USE_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#define TNODE_WITH_C10D
#include "compat.h"

#include <chrono>
#include <mutex>
#include <unordered_map>

#include "binding.h"

namespace tnode {
namespace {

using T = at::Tensor;

struct Group {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<compat::C10dGroup> pg;
  int rank;
  int size;
};

struct Pending {
  c10::intrusive_ptr<c10d::Work> work;
  int rank;
  std::string what;
  // Tensors an operation writes to must outlive it (all-gather outputs, in-place buffers).
  std::vector<T> keep;
};

std::mutex registryMutex;
std::unordered_map<int64_t, Group> groups;
std::unordered_map<int64_t, Pending> pending;
int64_t nextId = 1;

Group& groupOf(int64_t id) {
  std::lock_guard<std::mutex> lock(registryMutex);
  auto it = groups.find(id);
  TORCH_CHECK(it != groups.end(), "process group ", id, " does not exist (destroyed?)");
  return it->second;
}

int64_t track(const Group& g, c10::intrusive_ptr<c10d::Work> work, std::string what, std::vector<T> keep) {
  std::lock_guard<std::mutex> lock(registryMutex);
  const int64_t id = nextId++;
  pending.emplace(id, Pending{std::move(work), g.rank, std::move(what), std::move(keep)});
  return id;
}

Pending takePending(int64_t id) {
  std::lock_guard<std::mutex> lock(registryMutex);
  auto it = pending.find(id);
  TORCH_CHECK(it != pending.end(), "collective operation ", id, " does not exist (already waited for?)");
  Pending p = std::move(it->second);
  pending.erase(it);
  return p;
}

c10d::ReduceOp reduceOp(const std::string& op) {
  if (op == "sum") return c10d::ReduceOp::SUM;
  if (op == "max") return c10d::ReduceOp::MAX;
  if (op == "min") return c10d::ReduceOp::MIN;
  if (op == "product") return c10d::ReduceOp::PRODUCT;
  TORCH_CHECK(false, "reduce op must be 'sum', 'max', 'min' or 'product', got '", op, "'");
}

#ifdef USE_C10D_GLOO
std::shared_ptr<::gloo::transport::Device> glooDevice(const std::string& how) {
  // "" = this machine's hostname (loopback when it does not resolve), "host:NAME" = the interface
  // that NAME resolves to, "if:NAME" = a network interface by name (GLOO_SOCKET_IFNAME).
  if (how.rfind("host:", 0) == 0) return c10d::ProcessGroupGloo::createDeviceForHostname(how.substr(5));
  if (how.rfind("if:", 0) == 0) return c10d::ProcessGroupGloo::createDeviceForInterface(how.substr(3));
  TORCH_CHECK(how.empty(), "gloo device must be '', 'host:NAME' or 'if:NAME', got '", how, "'");
  return c10d::ProcessGroupGloo::createDefaultDevice();
}
#endif

Registrar distributedExports{
    TN_FN("distHasBackend",
          [](std::string backend) {
#ifdef USE_C10D_GLOO
            if (backend == "gloo") return true;
#endif
#ifdef USE_C10D_NCCL
            if (backend == "nccl") return true;
#endif
            return false;
          }),
    TN_FN("distCreateGroup",
          [](std::string backend, std::string storeKind, std::string address, int64_t port, int64_t rank,
             int64_t size, int64_t timeoutMs, std::string device) -> int64_t {
            TORCH_CHECK(size >= 1 && rank >= 0 && rank < size, "rank ", rank, " is not in 0..", size - 1);
            const std::chrono::milliseconds timeout(timeoutMs);
            c10::intrusive_ptr<c10d::Store> store;
            if (storeKind == "tcp") {
              c10d::TCPStoreOptions o;
              TORCH_CHECK(port > 0 && port < 65536, "port ", port, " is not in 1..65535");
              o.port = static_cast<std::uint16_t>(port);
              o.isServer = rank == 0;
              o.numWorkers = static_cast<std::size_t>(size);
              o.waitWorkers = true;
              o.timeout = timeout;
              compat::usePlainSockets(o);
              store = c10::make_intrusive<c10d::TCPStore>(address, o);
            } else if (storeKind == "file") {
              store = c10::make_intrusive<c10d::FileStore>(address, static_cast<int>(size));
              store->setTimeout(timeout);
            } else {
              TORCH_CHECK(false, "store must be 'tcp' or 'file', got '", storeKind, "'");
            }
            c10::intrusive_ptr<compat::C10dGroup> pg;
            if (backend == "gloo") {
#ifdef USE_C10D_GLOO
              auto options = c10d::ProcessGroupGloo::Options::create(timeout);
              options->devices.push_back(glooDevice(device));
              options->threads = 2;
              pg = c10::make_intrusive<c10d::ProcessGroupGloo>(store, static_cast<int>(rank), static_cast<int>(size),
                                                               options);
#else
              TORCH_CHECK(false, "this addon was built without Gloo's headers, so without data-parallel training: install libgloo-dev (Debian) and rebuild (make build)");
#endif
            } else if (backend == "nccl") {
#ifdef USE_C10D_NCCL
              auto options = c10d::ProcessGroupNCCL::Options::create();
              options->timeout = timeout;
              pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, static_cast<int>(rank), static_cast<int>(size),
                                                               options);
#else
              TORCH_CHECK(false, "this LibTorch was built without NCCL (a CPU build): use the gloo backend");
#endif
            } else {
              TORCH_CHECK(false, "backend must be 'gloo' or 'nccl', got '", backend, "'");
            }
            std::lock_guard<std::mutex> lock(registryMutex);
            const int64_t id = nextId++;
            groups.emplace(id, Group{store, pg, static_cast<int>(rank), static_cast<int>(size)});
            return id;
          }),
    TN_FN("distDestroyGroup",
          [](int64_t id) {
            std::lock_guard<std::mutex> lock(registryMutex);
            groups.erase(id);
          }),
    TN_FN("distAllReduce",
          [](int64_t id, T tensor, std::string op) -> int64_t {
            Group& g = groupOf(id);
            c10d::AllreduceOptions o;
            o.reduceOp = reduceOp(op);
            std::vector<T> tensors{tensor};
            auto work = g.pg->allreduce(tensors, o);
            return track(g, work, "all-reduce", tensors);
          }),
    TN_FN("distBroadcast",
          [](int64_t id, T tensor, int64_t root) -> int64_t {
            Group& g = groupOf(id);
            TORCH_CHECK(root >= 0 && root < g.size, "root rank ", root, " is not in 0..", g.size - 1);
            std::vector<T> tensors{tensor};
            c10d::BroadcastOptions o;
            o.rootRank = root;
            auto work = g.pg->broadcast(tensors, o);
            return track(g, work, "broadcast", tensors);
          }),
    TN_FN("distAllGather",
          [](int64_t id, std::vector<T> outputs, T input) -> int64_t {
            Group& g = groupOf(id);
            TORCH_CHECK(static_cast<int64_t>(outputs.size()) == g.size, "all-gather needs one output per rank (",
                        g.size, "), got ", outputs.size());
            std::vector<std::vector<T>> out{outputs};
            std::vector<T> in{input};
            auto work = g.pg->allgather(out, in);
            outputs.push_back(input);
            return track(g, work, "all-gather", outputs);
          }),
    TN_FN("distBarrier",
          [](int64_t id) -> int64_t {
            Group& g = groupOf(id);
            return track(g, g.pg->barrier(), "barrier", {});
          }),
    TN_FN("distIsCompleted",
          [](int64_t work) {
            std::lock_guard<std::mutex> lock(registryMutex);
            auto it = pending.find(work);
            TORCH_CHECK(it != pending.end(), "collective operation ", work, " does not exist (already waited for?)");
            return it->second.work->isCompleted();
          }),
    TN_FN("distWait",
          [](int64_t work) {
            Pending p = takePending(work);
            try {
              p.work->wait();
            } catch (const std::exception& e) {
              TORCH_CHECK(false, "rank ", p.rank, ": ", p.what, " failed: ", e.what());
            }
          }),
    TN_FN("distAverageGradients",
          [](int64_t id, std::vector<T> params, int64_t bucketBytes) {
            Group& g = groupOf(id);
            if (g.size == 1) return;
            at::NoGradGuard noGrad;
            // Buckets of consecutive parameters of one dtype, about bucketBytes each: one flat buffer,
            // one all-reduce, then the averages copied back (missing gradients count as zeros).
            size_t start = 0;
            while (start < params.size()) {
              size_t end = start;
              int64_t bytes = 0;
              const auto dtype = params[start].scalar_type();
              while (end < params.size() && params[end].scalar_type() == dtype &&
                     (end == start || bytes + params[end].nbytes() <= static_cast<uint64_t>(bucketBytes))) {
                bytes += params[end].nbytes();
                ++end;
              }
              std::vector<T> pieces;
              for (size_t i = start; i < end; ++i) {
                const T& grad = params[i].grad();
                pieces.push_back(grad.defined() ? grad.reshape(-1) : at::zeros({params[i].numel()}, params[i].options()));
              }
              std::vector<T> flat{at::cat(pieces)};
              auto work = g.pg->allreduce(flat);
              try {
                work->wait();
              } catch (const std::exception& e) {
                TORCH_CHECK(false, "rank ", g.rank, ": gradient all-reduce failed: ", e.what());
              }
              flat[0].div_(g.size);
              int64_t offset = 0;
              for (size_t i = start; i < end; ++i) {
                T& param = params[i];
                const int64_t n = param.numel();
                T avg = flat[0].narrow(0, offset, n).view(param.sizes());
                if (param.grad().defined())
                  param.mutable_grad().copy_(avg);
                else
                  param.mutable_grad() = avg.clone();
                offset += n;
              }
              start = end;
            }
          }),
    TN_FN("distStoreSet",
          [](int64_t id, std::string key, std::string value) {
            groupOf(id).store->set(key, std::vector<uint8_t>(value.begin(), value.end()));
          }),
    TN_FN("distStoreGet",
          [](int64_t id, std::string key) {
            auto v = groupOf(id).store->get(key);
            return std::string(v.begin(), v.end());
          }),
};

}  // namespace
}  // namespace tnode
