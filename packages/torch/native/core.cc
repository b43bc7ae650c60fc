// Tensor metadata, creation, random generators, autograd modes, autocast, threads and CUDA.
#include <ATen/autocast_mode.h>
#include <torch/csrc/autograd/profiler_legacy.h>
#include <ATen/Parallel.h>
#include <ATen/CPUGeneratorImpl.h>
#include <c10/core/GradMode.h>
#include <c10/core/InferenceMode.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include "binding.h"
#include "compat.h"

namespace tnode {
namespace {

using T = at::Tensor;
using Shape = std::vector<int64_t>;
using OptGen = std::optional<at::Generator>;

at::TensorOptions opts(at::ScalarType dtype, const std::string& device) {
  return at::TensorOptions().dtype(dtype).device(c10::Device(device));
}

c10::optional<at::Generator> gen(const OptGen& g) {
  if (g) return *g;
  return c10::nullopt;
}

// A gradient that may not exist, declared Handle | null to TypeScript.
std::optional<T> orNull(const T& t) {
  if (t.defined()) return t;
  return std::nullopt;
}

void finalizeGenerator(napi_env, void* data, void*) { delete static_cast<GeneratorBox*>(data); }

// A handle that owns an InferenceMode guard for the duration of a JS scope; the TS side nests
// and closes them in LIFO order.
struct InferenceScope {
  c10::InferenceMode guard;
};

struct GeneratorHandle {
  at::Generator gen;
};
template <typename>
struct Tag {};

}  // namespace

template <>
struct Ret<GeneratorHandle> {
  static napi_value make(napi_env env, GeneratorHandle h) {
    napi_value out;
    check(env, napi_create_external(env, new GeneratorBox{kGeneratorTag, h.gen}, finalizeGenerator, nullptr, &out));
    return out;
  }
  static std::string ts() { return "GenHandle"; }
};

namespace {

// The one recording in progress (LibTorch's recorder is process-wide); destroying it writes the trace.
std::unique_ptr<torch::autograd::profiler::RecordProfile>& activeProfile() {
  static std::unique_ptr<torch::autograd::profiler::RecordProfile> profile;
  return profile;
}

Registrar coreExports{
    // ---- metadata
    TN_FN("shape", [](T t) { return t.sizes().vec(); }),
    TN_FN("strides", [](T t) { return t.strides().vec(); }),
    TN_FN("dtype", [](T t) { return static_cast<int64_t>(t.scalar_type()); }),
    TN_FN("device", [](T t) { return t.device().str(); }),
    TN_FN("numel", [](T t) { return t.numel(); }),
    TN_FN("dim", [](T t) { return t.dim(); }),
    TN_FN("isContiguous", [](T t) { return t.is_contiguous(); }),
    TN_FN("item",
          [](T t) -> double {
            TORCH_CHECK(t.numel() == 1, "item() needs a tensor with one element, got shape ", t.sizes());
            return t.item<double>();
          }),
    TN_FN("itemInt",
          [](T t) -> int64_t {
            TORCH_CHECK(t.numel() == 1, "item() needs a tensor with one element, got shape ", t.sizes());
            return t.item<int64_t>();
          }),
    TN_FN("toString", [](T t) { return t.toString(); }),

    // ---- creation
    TN_FN("empty", [](Shape s, at::ScalarType d, std::string dev) { return at::empty(s, opts(d, dev)); }),
    TN_FN("zeros", [](Shape s, at::ScalarType d, std::string dev) { return at::zeros(s, opts(d, dev)); }),
    TN_FN("ones", [](Shape s, at::ScalarType d, std::string dev) { return at::ones(s, opts(d, dev)); }),
    TN_FN("full",
          [](Shape s, at::Scalar v, at::ScalarType d, std::string dev) { return at::full(s, v, opts(d, dev)); }),
    TN_FN("arange",
          [](at::Scalar a, at::Scalar b, at::Scalar step, at::ScalarType d, std::string dev) {
            return at::arange(a, b, step, opts(d, dev));
          }),
    TN_FN("linspace",
          [](at::Scalar a, at::Scalar b, int64_t n, at::ScalarType d, std::string dev) {
            return at::linspace(a, b, n, opts(d, dev));
          }),
    TN_FN("eye", [](int64_t n, at::ScalarType d, std::string dev) { return at::eye(n, opts(d, dev)); }),
    TN_FN("rand",
          [](Shape s, OptGen g, at::ScalarType d, std::string dev) { return at::rand(s, gen(g), opts(d, dev)); }),
    TN_FN("randn",
          [](Shape s, OptGen g, at::ScalarType d, std::string dev) { return at::randn(s, gen(g), opts(d, dev)); }),
    TN_FN("randint",
          [](int64_t lo, int64_t hi, Shape s, OptGen g, at::ScalarType d, std::string dev) {
            return at::randint(lo, hi, s, gen(g), opts(d, dev));
          }),
    TN_FN("randperm",
          [](int64_t n, OptGen g, at::ScalarType d, std::string dev) { return at::randperm(n, gen(g), opts(d, dev)); }),
    TN_FN("uniform_", [](T t, double a, double b, OptGen g) { t.uniform_(a, b, gen(g)); }),
    TN_FN("normal_", [](T t, double m, double s, OptGen g) { t.normal_(m, s, gen(g)); }),
    TN_FN("bernoulli", [](T t, OptGen g) { return at::bernoulli(t, gen(g)); }),
    TN_FN("multinomial",
          [](T t, int64_t n, bool repl, OptGen g) { return at::multinomial(t, n, repl, gen(g)); }),

    // ---- generators
    TN_FN("createGenerator",
          [](uint64_t seed) {
            auto g = at::make_generator<at::CPUGeneratorImpl>(seed);
            return GeneratorHandle{g};
          }),
    TN_FN("generatorSeed",
          [](at::Generator g, uint64_t seed) {
            std::lock_guard<std::mutex> lock(g.mutex());
            g.set_current_seed(seed);
          }),
    TN_FN("generatorState", [](at::Generator g) {
      std::lock_guard<std::mutex> lock(g.mutex());
      return g.get_state();
    }),
    TN_FN("generatorSetState",
          [](at::Generator g, T state) {
            std::lock_guard<std::mutex> lock(g.mutex());
            g.set_state(state);
          }),
    TN_FN("manualSeed", [](uint64_t seed) { at::manual_seed(seed); }),

    // ---- autograd
    TN_FN("requiresGrad", [](T t) { return t.requires_grad(); }),
    TN_FN("setRequiresGrad", [](T t, bool r) { t.set_requires_grad(r); }),
    TN_FN("grad", [](T t) { return orNull(t.grad()); }),
    TN_FN("setGrad", [](T t, std::optional<T> g) { t.mutable_grad() = g ? *g : T(); }),
    TN_FN("isLeaf", [](T t) { return t.is_leaf(); }),
    TN_FN("hasGradFn", [](T t) { return t.grad_fn() != nullptr; }),
    TN_FN("retainGrad", [](T t) { t.retain_grad(); }),
    TN_FN("detach", [](T t) { return t.detach(); }),
    TN_FN("detach_", [](T t) { t.detach_(); }),
    TN_FN("backward",
          [](T t, std::optional<T> g, bool retain) {
            t.backward(g ? *g : T(), retain ? c10::optional<bool>(true) : c10::nullopt, false);
          }),
    TN_FN("autogradGrad",
          [](std::vector<T> outs, std::vector<T> ins, std::optional<std::vector<T>> gouts, bool retain, bool create) {
            auto grads = torch::autograd::grad(outs, ins, gouts ? *gouts : std::vector<T>{},
                                               retain ? c10::optional<bool>(true) : c10::nullopt, create, false);
            std::vector<std::optional<T>> out;
            out.reserve(grads.size());
            for (auto& g : grads) out.push_back(orNull(g));
            return out;
          }),
    TN_FN("isGradEnabled", []() { return c10::GradMode::is_enabled(); }),
    TN_FN("setGradEnabled", [](bool on) { c10::GradMode::set_enabled(on); }),
    TN_FN("isInferenceMode", []() { return c10::InferenceMode::is_enabled(); }),
    TN_FN("inferenceEnter", []() -> int64_t { return reinterpret_cast<int64_t>(new InferenceScope()); }),
    TN_FN("inferenceExit", [](int64_t h) { delete reinterpret_cast<InferenceScope*>(h); }),

    // ---- autocast (mixed precision)
    TN_FN("autocastState",
          []() {
            return std::tuple<int64_t, int64_t, int64_t, int64_t>{
                compat::autocastEnabled(c10::DeviceType::CUDA), compat::autocastEnabled(c10::DeviceType::CPU),
                static_cast<int64_t>(compat::autocastDtype(c10::DeviceType::CUDA)),
                static_cast<int64_t>(compat::autocastDtype(c10::DeviceType::CPU))};
          }),
    TN_FN("autocastSet",
          [](bool cuda, bool cpu, at::ScalarType gpuDtype, at::ScalarType cpuDtype) {
            compat::setAutocastEnabled(c10::DeviceType::CUDA, cuda);
            compat::setAutocastEnabled(c10::DeviceType::CPU, cpu);
            compat::setAutocastDtype(c10::DeviceType::CUDA, gpuDtype);
            compat::setAutocastDtype(c10::DeviceType::CPU, cpuDtype);
          }),
    TN_FN("autocastEnter", []() { at::autocast::increment_nesting(); }),
    TN_FN("autocastExit",
          []() {
            if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
          }),

    // ---- profiling: LibTorch's own op recorder, written as a Chrome trace when stopped
    TN_FN("profileStart",
          [](std::string path) {
            TORCH_CHECK(!activeProfile(), "a profile is already being recorded");
            activeProfile() = std::make_unique<torch::autograd::profiler::RecordProfile>(path);
          }),
    TN_FN("profileStop", []() { activeProfile().reset(); }),

    // ---- threads and devices
    TN_FN("setNumThreads", [](int64_t n) { at::set_num_threads(static_cast<int>(n)); }),
    TN_FN("getNumThreads", []() -> int64_t { return at::get_num_threads(); }),
    TN_FN("setNumInteropThreads", [](int64_t n) { at::set_num_interop_threads(static_cast<int>(n)); }),
    TN_FN("cudaIsAvailable", []() { return torch::cuda::is_available(); }),
    TN_FN("cudaDeviceCount", []() -> int64_t { return static_cast<int64_t>(torch::cuda::device_count()); }),
    TN_FN("cudaSynchronize",
          [](int64_t idx) {
            if (torch::cuda::is_available()) torch::cuda::synchronize(idx);
          }),
    // cuDNN's autotuner: time the convolution algorithms once per shape and keep the fastest (what
    // nnU-Net sets for training; a no-op without cuDNN).
    TN_FN("setCudnnBenchmark", [](bool on) { at::globalContext().setBenchmarkCuDNN(on); }),
    TN_FN("cudnnBenchmark", []() { return at::globalContext().benchmarkCuDNN(); }),
    // The device that 'cuda' means in this process (one GPU per data-parallel rank). Through c10's
    // device-guard registry, so CPU builds compile it too (and refuse at run time).
    TN_FN("cudaSetDevice",
          [](int64_t idx) {
            TORCH_CHECK(torch::cuda::is_available(), "CUDA is not available to this LibTorch");
            TORCH_CHECK(idx >= 0 && idx < static_cast<int64_t>(torch::cuda::device_count()), "CUDA device ", idx,
                        " does not exist (", torch::cuda::device_count(), " devices)");
            c10::impl::getDeviceGuardImpl(c10::DeviceType::CUDA)
                ->setDevice(c10::Device(c10::DeviceType::CUDA, static_cast<c10::DeviceIndex>(idx)));
          }),
    TN_FN("torchVersion", []() { return std::string(TORCH_VERSION); }),
    TN_FN("parallelInfo", []() { return at::get_parallel_info(); }),
};

}  // namespace
}  // namespace tnode
