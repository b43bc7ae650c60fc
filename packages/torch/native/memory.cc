// Tensor handle lifetime, live-memory counters, error conversion and module registration.
#include <mutex>
#include <sstream>
#include <unordered_map>

#include "binding.h"

namespace tnode {

namespace {

struct StorageEntry {
  int64_t refs = 0;
  int64_t bytes = 0;
};

// Storages referenced by live JS handles, shared by every thread (workers included), so that
// views count their storage once.
std::mutex gStorageMutex;
std::unordered_map<const void*, StorageEntry> gStorages;
std::atomic<int64_t> gLiveTensors{0};
std::atomic<int64_t> gLiveBytes{0};

// References to JS buffers that back zero-copy tensors. LibTorch may drop the storage on any
// thread, but a napi_ref can only be deleted on its own JS thread, so deleters queue them here
// and the owning env drains the queue on its next native call.
std::mutex gPendingMutex;
std::vector<std::pair<napi_env, napi_ref>> gPending;
std::atomic<bool> gAnyPending{false};

void finalizeBox(napi_env env, void* data, void*) {
  auto* box = static_cast<TensorBox*>(data);
  releaseBox(env, box);
  delete box;
}

}  // namespace

void check(napi_env env, napi_status status) {
  if (status == napi_ok) return;
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) throw JsPending{};
  const napi_extended_error_info* info = nullptr;
  napi_get_last_error_info(env, &info);
  throw ArgError{info && info->error_message ? info->error_message : "N-API call failed"};
}

void throwArg(const std::string& msg) { throw ArgError{msg}; }

// Per-env state: the JS function that builds the package's error objects.
struct EnvData {
  napi_ref errorFactory = nullptr;
};

void deleteEnvData(napi_env env, void* data, void*) {
  auto* d = static_cast<EnvData*>(data);
  if (d->errorFactory) napi_delete_reference(env, d->errorFactory);
  delete d;
}

EnvData* envData(napi_env env) {
  void* data = nullptr;
  napi_get_instance_data(env, &data);
  return static_cast<EnvData*>(data);
}

void throwJs(napi_env env, const char* kind, const char* op, const std::string& message) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) return;
  std::string text = std::string(op) + ": " + message;
  // LibTorch messages sometimes end in a newline; keep the JS message on clean lines.
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  napi_value msg, code, err = nullptr;
  napi_create_string_utf8(env, text.c_str(), text.size(), &msg);
  napi_create_string_utf8(env, "ERR_TORCH_NATIVE", NAPI_AUTO_LENGTH, &code);
  EnvData* d = envData(env);
  napi_value factory = nullptr;
  if (d && d->errorFactory && napi_get_reference_value(env, d->errorFactory, &factory) == napi_ok && factory) {
    napi_value kindV, global;
    napi_create_string_utf8(env, kind, NAPI_AUTO_LENGTH, &kindV);
    napi_get_global(env, &global);
    napi_value argv[2] = {kindV, msg};
    if (napi_call_function(env, global, factory, 2, argv, &err) != napi_ok) err = nullptr;
    napi_is_exception_pending(env, &pending);
    if (pending) return;
  }
  if (!err) {
    if (std::string(kind) == "TypeError")
      napi_create_type_error(env, code, msg, &err);
    else
      napi_create_error(env, code, msg, &err);
  }
  napi_throw(env, err);
}

std::string describeTensorArgs(napi_env env, const napi_value* argv, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    TensorBox* box = tensorBoxOf(env, argv[i]);
    if (!box || !box->tensor.defined()) continue;
    out += out.empty() ? " (tensor arguments: " : ", ";
    std::ostringstream s;
    s << box->tensor.sizes() << " " << box->tensor.scalar_type();
    out += s.str();
  }
  return out.empty() ? out : out + ")";
}

std::vector<Export>& registry() {
  static std::vector<Export> r;
  return r;
}

namespace {

// Counts the box's storage as referenced by one more handle.
void attachStorage(napi_env env, TensorBox* box) {
  if (!box->tensor.has_storage()) return;
  const void* key = box->tensor.storage().unsafeGetStorageImpl();
  box->storageKey = key;
  int64_t added = 0;
  {
    std::lock_guard<std::mutex> lock(gStorageMutex);
    auto& e = gStorages[key];
    if (e.refs++ == 0) {
      e.bytes = static_cast<int64_t>(box->tensor.storage().nbytes());
      added = e.bytes;
    }
  }
  if (added) {
    gLiveBytes.fetch_add(added, std::memory_order_relaxed);
    int64_t total;
    napi_adjust_external_memory(env, added, &total);
  }
}

void detachStorage(napi_env env, TensorBox* box) {
  if (!box->storageKey) return;
  int64_t removed = 0;
  {
    std::lock_guard<std::mutex> lock(gStorageMutex);
    auto it = gStorages.find(box->storageKey);
    if (it != gStorages.end() && --it->second.refs == 0) {
      removed = it->second.bytes;
      gStorages.erase(it);
    }
  }
  box->storageKey = nullptr;
  if (removed) {
    gLiveBytes.fetch_sub(removed, std::memory_order_relaxed);
    int64_t total;
    if (env) napi_adjust_external_memory(env, -removed, &total);
  }
}

}  // namespace

napi_value wrapTensor(napi_env env, at::Tensor&& t) {
  if (gAnyPending.load(std::memory_order_relaxed)) drainPendingReleases(env);
  auto* box = new TensorBox{kTensorTag, std::move(t), nullptr};
  napi_value out;
  napi_status st = napi_create_external(env, box, finalizeBox, nullptr, &out);
  if (st != napi_ok) {
    delete box;
    check(env, st);
  }
  gLiveTensors.fetch_add(1, std::memory_order_relaxed);
  attachStorage(env, box);
  return out;
}

void releaseBox(napi_env env, TensorBox* box) {
  if (!box->tensor.defined()) return;
  detachStorage(env, box);
  box->tensor.reset();
  gLiveTensors.fetch_sub(1, std::memory_order_relaxed);
}

int64_t liveTensorCount() { return gLiveTensors.load(); }
int64_t liveTensorBytes() { return gLiveBytes.load(); }

void queueRelease(napi_env env, napi_ref ref) {
  std::lock_guard<std::mutex> lock(gPendingMutex);
  gPending.emplace_back(env, ref);
  gAnyPending.store(true);
}

void drainPendingReleases(napi_env env) {
  std::vector<napi_ref> mine;
  {
    std::lock_guard<std::mutex> lock(gPendingMutex);
    auto keep = gPending.begin();
    for (auto& p : gPending) {
      if (p.first == env)
        mine.push_back(p.second);
      else
        *keep++ = p;
    }
    gPending.erase(keep, gPending.end());
    gAnyPending.store(!gPending.empty());
  }
  for (auto ref : mine) napi_delete_reference(env, ref);
}

namespace {

// Teardown of a worker's env: forget references that can no longer be released.
void envCleanup(void* arg) {
  auto env = static_cast<napi_env>(arg);
  std::lock_guard<std::mutex> lock(gPendingMutex);
  auto keep = gPending.begin();
  for (auto& p : gPending)
    if (p.first != env) *keep++ = p;
  gPending.erase(keep, gPending.end());
  gAnyPending.store(!gPending.empty());
}

napi_value setErrorFactory(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  EnvData* d = envData(env);
  if (d && argc == 1) {
    if (d->errorFactory) napi_delete_reference(env, d->errorFactory);
    napi_create_reference(env, argv[0], 1, &d->errorFactory);
  }
  return nullptr;
}

// t.set_data(src): swaps the tensor's data (device/dtype may change) keeping its autograd
// identity, as PyTorch does when a module is moved; the storage accounting follows.
napi_value setData(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  try {
    if (argc != 2) throwArg("setData needs two tensors");
    at::Tensor src = Arg<at::Tensor>::get(env, argv[1]);
    Arg<at::Tensor>::get(env, argv[0]);
    TensorBox* box = tensorBoxOf(env, argv[0]);
    box->tensor.set_data(src);
    detachStorage(env, box);
    attachStorage(env, box);
  } catch (const JsPending&) {
  } catch (const ArgError& e) {
    throwJs(env, "TypeError", "setData", e.message);
  } catch (const c10::Error& e) {
    throwJs(env, "Error", "setData", e.what_without_backtrace());
  }
  return nullptr;
}

napi_value disposeHandle(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  if (argc == 1) {
    if (TensorBox* box = tensorBoxOf(env, argv[0])) releaseBox(env, box);
  }
  return nullptr;
}

}  // namespace

// Raw bytes of a TypedArray argument: pointer and length.
struct Bytes {
  uint8_t* data;
  size_t length;
};
Bytes typedArrayBytes(napi_env env, napi_value v) {
  bool is;
  check(env, napi_is_typedarray(env, v, &is));
  if (!is) throwArg("expected a typed array");
  napi_typedarray_type type;
  size_t length, offset;
  void* data;
  napi_value ab;
  check(env, napi_get_typedarray_info(env, v, &type, &length, &data, &ab, &offset));
  size_t elem = 1;
  switch (type) {
    case napi_int16_array:
    case napi_uint16_array:
      elem = 2;
      break;
    case napi_int32_array:
    case napi_uint32_array:
    case napi_float32_array:
      elem = 4;
      break;
    case napi_float64_array:
    case napi_bigint64_array:
    case napi_biguint64_array:
      elem = 8;
      break;
    default:
      elem = 1;
  }
  return {static_cast<uint8_t*>(data), length * elem};
}

namespace {

at::Tensor fromBytes(JsBytes bytes, std::vector<int64_t> shape, at::ScalarType dtype, bool share) {
  Bytes b = typedArrayBytes(bytes.env, bytes.value);
  auto opts = at::TensorOptions().dtype(dtype);
  int64_t numel = 1;
  for (auto s : shape) numel *= s;
  size_t need = static_cast<size_t>(numel) * at::elementSize(dtype);
  if (b.length != need)
    throwArg("buffer holds " + std::to_string(b.length) + " bytes but shape and dtype need " + std::to_string(need));
  if (!share) {
    at::Tensor t = at::empty(shape, opts);
    if (need) std::memcpy(t.data_ptr(), b.data, need);
    return t;
  }
  napi_ref ref;
  check(bytes.env, napi_create_reference(bytes.env, bytes.value, 1, &ref));
  napi_env env = bytes.env;
  return at::from_blob(
      b.data, shape, [env, ref](void*) { queueRelease(env, ref); }, opts);
}


void copyIntoBytes(at::Tensor t, JsBytes target) {
  Bytes b = typedArrayBytes(target.env, target.value);
  at::Tensor c = t.to(at::kCPU).contiguous();
  size_t n = c.numel() * c.element_size();
  if (b.length != n)
    throwArg("target holds " + std::to_string(b.length) + " bytes but the tensor has " + std::to_string(n));
  if (n) std::memcpy(b.data, c.data_ptr(), n);
}

Registrar memoryExports{
    TN_FN("liveTensors", []() -> int64_t { return liveTensorCount(); }),
    TN_FN("liveBytes", []() -> int64_t { return liveTensorBytes(); }),
    TN_FN("fromBytes",
          [](JsBytes b, std::vector<int64_t> shape, at::ScalarType dtype) { return fromBytes(b, shape, dtype, false); }),
    TN_FN("shareBytes",
          [](JsBytes b, std::vector<int64_t> shape, at::ScalarType dtype) { return fromBytes(b, shape, dtype, true); }),
    TN_FN("toBytes", [](at::Tensor t) { return HostBytes{t.to(at::kCPU).contiguous()}; }),
    TN_FN("copyIntoBytes", [](at::Tensor t, JsBytes target) { copyIntoBytes(t, target); }),
    // Every TN_FN op as [name, file, lambda source, parameter TS types, result TS type], read by
    // scripts/gen-native.mjs to write src/native-ops.generated.ts.
    TN_FN("opSignatures",
          []() {
            std::vector<std::tuple<std::string, std::string, std::string, std::vector<std::string>, std::string>> out;
            for (auto& e : registry()) {
              TsSignature s = e.signature();
              out.emplace_back(e.name, e.file, e.source, s.params, s.result);
            }
            return out;
          }),
};

}  // namespace

}  // namespace tnode

// Context-aware module: the same init runs for the main thread and each worker thread.
NAPI_MODULE_INIT() {
  using namespace tnode;
  napi_add_env_cleanup_hook(env, envCleanup, env);
  napi_set_instance_data(env, new EnvData{}, deleteEnvData, nullptr);
  std::vector<napi_property_descriptor> props;
  props.push_back({"dispose", nullptr, disposeHandle, nullptr, nullptr, nullptr, napi_default, nullptr});
  props.push_back({"setData", nullptr, setData, nullptr, nullptr, nullptr, napi_default, nullptr});
  props.push_back({"setErrorFactory", nullptr, setErrorFactory, nullptr, nullptr, nullptr, napi_default, nullptr});
  for (auto& e : registry())
    props.push_back({e.name, nullptr, e.cb, nullptr, nullptr, nullptr, napi_default,
                     const_cast<char*>(e.name)});
  napi_define_properties(env, exports, props.size(), props.data());
  return exports;
}
