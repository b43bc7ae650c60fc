// Core of the N-API binding: tensor handles, argument/return conversion templates and
// the single exception guard every exported function goes through.
//
// Each Arg<T>/Ret<T> conversion also names, in ts(), the TypeScript type of the JS values it
// accepts or makes; scripts/gen-native.mjs writes the addon's TypeScript interface from them, so
// the TS declarations cannot drift from the conversions.
//
// Memory rules (kept everywhere):
//  * every native function that produces a tensor returns a new handle owned by the caller;
//  * no native function ever releases its inputs;
//  * a handle is released by an explicit dispose() or, as a backstop, by the GC finalizer.
#pragma once

#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <node_api.h>

#include <cmath>
#include <cstdint>
#include <algorithm>
#include <cstring>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace tnode {

// Thrown after a JS exception has already been set on the env; the guard just returns.
struct JsPending {};

// A JS-side usage error detected in C++ (bad handle, wrong JS type): becomes a TypeError.
struct ArgError {
  std::string message;
};

// Handles are N-API externals; a leading tag tells the two kinds apart, so a wrong handle is
// a clean error instead of a misread pointer.
constexpr uint32_t kTensorTag = 0x54454e53;     // "TENS"
constexpr uint32_t kGeneratorTag = 0x47454e52;  // "GENR"

// One JS-visible tensor handle.
struct TensorBox {
  uint32_t tag = kTensorTag;
  at::Tensor tensor;
  const void* storageKey = nullptr;
};

struct GeneratorBox {
  uint32_t tag = kGeneratorTag;
  at::Generator gen;
};

// The TensorBox behind a JS value, or nullptr when it is not a tensor handle.
inline TensorBox* tensorBoxOf(napi_env env, napi_value v) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external) return nullptr;
  void* data = nullptr;
  if (napi_get_value_external(env, v, &data) != napi_ok || data == nullptr) return nullptr;
  auto* box = static_cast<TensorBox*>(data);
  return box->tag == kTensorTag ? box : nullptr;
}

// Tensor handles and live-memory accounting (memory.cc).
napi_value wrapTensor(napi_env env, at::Tensor&& t);
void releaseBox(napi_env env, TensorBox* box);
int64_t liveTensorCount();
int64_t liveTensorBytes();

// Deferred release of JS references held by zero-copy tensors (memory.cc).
void drainPendingReleases(napi_env env);

void check(napi_env env, napi_status status);
[[noreturn]] void throwArg(const std::string& msg);

// ---------------------------------------------------------------- argument conversion
template <typename T, typename Enable = void>
struct Arg;

// "T[]", parenthesised when T is a union.
inline std::string tsArrayOf(const std::string& t) {
  return t.find(" | ") == std::string::npos ? t + "[]" : "(" + t + ")[]";
}

inline napi_valuetype typeOf(napi_env env, napi_value v) {
  napi_valuetype t;
  check(env, napi_typeof(env, v, &t));
  return t;
}

inline bool isNullish(napi_env env, napi_value v) {
  auto t = typeOf(env, v);
  return t == napi_undefined || t == napi_null;
}

template <>
struct Arg<at::Tensor> {
  static at::Tensor get(napi_env env, napi_value v) {
    TensorBox* box = tensorBoxOf(env, v);
    if (!box) throwArg("expected a tensor handle");
    if (!box->tensor.defined()) throwArg("tensor was used after dispose()");
    return box->tensor;
  }
  static std::string ts() { return "Handle"; }
};

template <>
struct Arg<at::Generator> {
  static at::Generator get(napi_env env, napi_value v) {
    if (typeOf(env, v) != napi_external) throwArg("expected a generator handle");
    void* data;
    check(env, napi_get_value_external(env, v, &data));
    auto* box = static_cast<GeneratorBox*>(data);
    if (!box || box->tag != kGeneratorTag) throwArg("expected a generator handle");
    return box->gen;
  }
  static std::string ts() { return "GenHandle"; }
};

template <>
struct Arg<double> {
  static double get(napi_env env, napi_value v) {
    if (typeOf(env, v) == napi_bigint) {
      int64_t r;
      bool lossless;
      check(env, napi_get_value_bigint_int64(env, v, &r, &lossless));
      return static_cast<double>(r);
    }
    double r;
    if (napi_get_value_double(env, v, &r) != napi_ok) throwArg("expected a number");
    return r;
  }
  static std::string ts() { return "number"; }
};

template <>
struct Arg<int64_t> {
  static int64_t get(napi_env env, napi_value v) {
    if (typeOf(env, v) == napi_bigint) {
      int64_t r;
      bool lossless;
      check(env, napi_get_value_bigint_int64(env, v, &r, &lossless));
      return r;
    }
    int64_t r;
    if (napi_get_value_int64(env, v, &r) != napi_ok) throwArg("expected an integer");
    return r;
  }
  // BigInts are accepted too, but only seeds (uint64_t) are declared to take them.
  static std::string ts() { return "number"; }
};

// Seeds: a number or a BigInt, whose int64 bits are read as unsigned, like torch.manual_seed.
template <>
struct Arg<uint64_t> {
  static uint64_t get(napi_env env, napi_value v) { return static_cast<uint64_t>(Arg<int64_t>::get(env, v)); }
  static std::string ts() { return "number | bigint"; }
};

template <>
struct Arg<bool> {
  static bool get(napi_env env, napi_value v) {
    bool r;
    if (napi_get_value_bool(env, v, &r) != napi_ok) throwArg("expected a boolean");
    return r;
  }
  static std::string ts() { return "boolean"; }
};

template <>
struct Arg<std::string> {
  static std::string get(napi_env env, napi_value v) {
    size_t len;
    if (napi_get_value_string_utf8(env, v, nullptr, 0, &len) != napi_ok) throwArg("expected a string");
    std::string s(len, '\0');
    check(env, napi_get_value_string_utf8(env, v, s.data(), len + 1, &len));
    return s;
  }
  static std::string ts() { return "string"; }
};

// JS numbers that are integral become integer scalars (like Python ints), others doubles;
// BigInts are int64; booleans are bool scalars.
template <>
struct Arg<at::Scalar> {
  static at::Scalar get(napi_env env, napi_value v) {
    auto t = typeOf(env, v);
    if (t == napi_boolean) return at::Scalar(Arg<bool>::get(env, v));
    if (t == napi_bigint) return at::Scalar(Arg<int64_t>::get(env, v));
    double d = Arg<double>::get(env, v);
    if (std::isfinite(d) && d == static_cast<double>(static_cast<int64_t>(d)) && std::abs(d) < 9.0e15)
      return at::Scalar(static_cast<int64_t>(d));
    return at::Scalar(d);
  }
  static std::string ts() { return "number | bigint | boolean"; }
};

template <>
struct Arg<at::ScalarType> {
  static at::ScalarType get(napi_env env, napi_value v) {
    return static_cast<at::ScalarType>(Arg<int64_t>::get(env, v));
  }
  // A dtype code (DTYPE_CODES in src/dtype.ts).
  static std::string ts() { return "number"; }
};

template <>
struct Arg<c10::Device> {
  static c10::Device get(napi_env env, napi_value v) { return c10::Device(Arg<std::string>::get(env, v)); }
  static std::string ts() { return "string"; }
};

template <typename T>
struct Arg<std::vector<T>> {
  static std::vector<T> get(napi_env env, napi_value v) {
    bool isArray;
    check(env, napi_is_array(env, v, &isArray));
    if (!isArray) throwArg("expected an array");
    uint32_t n;
    check(env, napi_get_array_length(env, v, &n));
    std::vector<T> out;
    out.reserve(n);
    for (uint32_t i = 0; i < n; ++i) {
      napi_value e;
      check(env, napi_get_element(env, v, i, &e));
      out.push_back(Arg<T>::get(env, e));
    }
    return out;
  }
  static std::string ts() { return "readonly " + tsArrayOf(Arg<T>::ts()); }
};

template <typename T>
struct Arg<std::optional<T>> {
  static std::optional<T> get(napi_env env, napi_value v) {
    if (isNullish(env, v)) return std::nullopt;
    return Arg<T>::get(env, v);
  }
  static std::string ts() { return Arg<T>::ts() + " | null | undefined"; }
};

// A typed array passed through unconverted: the function reads or shares its bytes itself.
struct JsBytes {
  napi_env env;
  napi_value value;
};
template <>
struct Arg<JsBytes> {
  static JsBytes get(napi_env env, napi_value v) { return {env, v}; }
  static std::string ts() { return "ArrayBufferView"; }
};

// ---------------------------------------------------------------- return conversion
template <typename T, typename Enable = void>
struct Ret;

// An undefined tensor still becomes null as a backstop, but the declared type is Handle: an op
// that can legitimately produce no tensor returns std::optional<at::Tensor>, declared Handle | null.
template <>
struct Ret<at::Tensor> {
  static napi_value make(napi_env env, at::Tensor t) {
    napi_value r;
    if (!t.defined()) {
      check(env, napi_get_null(env, &r));
      return r;
    }
    return wrapTensor(env, std::move(t));
  }
  static std::string ts() { return "Handle"; }
};

template <>
struct Ret<double> {
  static napi_value make(napi_env env, double d) {
    napi_value r;
    check(env, napi_create_double(env, d, &r));
    return r;
  }
  static std::string ts() { return "number"; }
};

template <>
struct Ret<int64_t> {
  static napi_value make(napi_env env, int64_t d) {
    napi_value r;
    check(env, napi_create_int64(env, d, &r));
    return r;
  }
  static std::string ts() { return "number"; }
};

template <>
struct Ret<bool> {
  static napi_value make(napi_env env, bool b) {
    napi_value r;
    check(env, napi_get_boolean(env, b, &r));
    return r;
  }
  static std::string ts() { return "boolean"; }
};

template <>
struct Ret<std::string> {
  static napi_value make(napi_env env, const std::string& s) {
    napi_value r;
    check(env, napi_create_string_utf8(env, s.data(), s.size(), &r));
    return r;
  }
  static std::string ts() { return "string"; }
};

// A CPU contiguous tensor whose bytes are returned as a fresh ArrayBuffer.
struct HostBytes {
  at::Tensor tensor;
};
template <>
struct Ret<HostBytes> {
  static napi_value make(napi_env env, HostBytes h) {
    size_t n = h.tensor.numel() * h.tensor.element_size();
    void* data;
    napi_value ab;
    check(env, napi_create_arraybuffer(env, n, &data, &ab));
    if (n) std::memcpy(data, h.tensor.data_ptr(), n);
    return ab;
  }
  static std::string ts() { return "ArrayBuffer"; }
};

template <typename T>
struct Ret<std::optional<T>> {
  static napi_value make(napi_env env, std::optional<T> v) {
    if (v) return Ret<T>::make(env, std::move(*v));
    napi_value r;
    check(env, napi_get_null(env, &r));
    return r;
  }
  static std::string ts() { return Ret<T>::ts() + " | null"; }
};

template <typename T>
struct Ret<std::vector<T>> {
  static napi_value make(napi_env env, std::vector<T> v) {
    napi_value arr;
    check(env, napi_create_array_with_length(env, v.size(), &arr));
    for (size_t i = 0; i < v.size(); ++i)
      check(env, napi_set_element(env, arr, static_cast<uint32_t>(i), Ret<T>::make(env, std::move(v[i]))));
    return arr;
  }
  static std::string ts() { return tsArrayOf(Ret<T>::ts()); }
};

template <typename... T>
struct Ret<std::tuple<T...>> {
  static napi_value make(napi_env env, std::tuple<T...> v) {
    napi_value arr;
    check(env, napi_create_array_with_length(env, sizeof...(T), &arr));
    setAll(env, arr, v, std::index_sequence_for<T...>{});
    return arr;
  }
  template <size_t... I>
  static void setAll(napi_env env, napi_value arr, std::tuple<T...>& v, std::index_sequence<I...>) {
    (check(env, napi_set_element(env, arr, I, Ret<std::decay_t<T>>::make(env, std::move(std::get<I>(v))))), ...);
  }
  static std::string ts() {
    std::string out;
    ((out += (out.empty() ? "" : ", ") + Ret<std::decay_t<T>>::ts()), ...);
    return "[" + out + "]";
  }
};

// ---------------------------------------------------------------- the call template
// Signature of a captureless lambda, read from its call operator.
template <typename T>
struct Signature;
template <typename C, typename R, typename... A>
struct Signature<R (C::*)(A...) const> {
  using Result = R;
  using Args = std::tuple<std::decay_t<A>...>;
  static constexpr size_t arity = sizeof...(A);
};

template <auto L, typename S, size_t... I>
napi_value invoke(napi_env env, napi_value* argv, std::index_sequence<I...>) {
  using Args = typename S::Args;
  using R = typename S::Result;
  // Braced initialisation converts the arguments left to right, so the first bad one is reported.
  Args args{Arg<std::tuple_element_t<I, Args>>::get(env, argv[I])...};
  if constexpr (std::is_void_v<R>) {
    L(std::move(std::get<I>(args))...);
    napi_value u;
    check(env, napi_get_undefined(env, &u));
    return u;
  } else {
    return Ret<std::decay_t<R>>::make(env, L(std::move(std::get<I>(args))...));
  }
}

void throwJs(napi_env env, const char* kind, const char* op, const std::string& message);

// " (tensor arguments: [2, 3] float, [4] float)" for the tensor handles among argv, so that a
// LibTorch message about sizes can be read against the shapes the caller passed.
std::string describeTensorArgs(napi_env env, const napi_value* argv, size_t n);

// Every exported function is entry<lambda>: it unpacks the JS arguments (missing ones are
// undefined), calls the lambda, converts the result, and turns any C++ exception into a JS
// error prefixed with the op name. This is the only place exceptions are caught.
template <auto L>
napi_value entry(napi_env env, napi_callback_info info) {
  using S = Signature<decltype(&decltype(L)::operator())>;
  constexpr size_t N = S::arity;
  const char* name = "op";
  napi_value argv[N == 0 ? 1 : N];
  size_t argc = N;
  try {
    void* data = nullptr;
    check(env, napi_get_cb_info(env, info, &argc, argv, nullptr, &data));
    if (data) name = static_cast<const char*>(data);
    for (size_t i = argc; i < N; ++i) check(env, napi_get_undefined(env, &argv[i]));
    return invoke<L, S>(env, argv, std::make_index_sequence<N>{});
  } catch (const JsPending&) {
    return nullptr;
  } catch (const ArgError& e) {
    throwJs(env, "TypeError", name, e.message);
  } catch (const c10::Error& e) {
    throwJs(env, "Error", name, e.what_without_backtrace() + describeTensorArgs(env, argv, std::min(argc, N)));
  } catch (const std::exception& e) {
    throwJs(env, "Error", name, e.what());
  } catch (...) {
    throwJs(env, "Error", name, "unknown native exception");
  }
  return nullptr;
}

// The TypeScript types of an op's parameters and result, read from the conversions it uses.
struct TsSignature {
  std::vector<std::string> params;
  std::string result;
};

template <typename S, size_t... I>
TsSignature tsSignatureOf(std::index_sequence<I...>) {
  using R = typename S::Result;
  std::string result;
  if constexpr (std::is_void_v<R>)
    result = "void";
  else
    result = Ret<std::decay_t<R>>::ts();
  return {{Arg<std::tuple_element_t<I, typename S::Args>>::ts()...}, result};
}

template <auto L>
TsSignature tsSignature() {
  using S = Signature<decltype(&decltype(L)::operator())>;
  return tsSignatureOf<S>(std::make_index_sequence<S::arity>{});
}

struct Export {
  const char* name;
  napi_callback cb;
  // Where the op is registered and its lambda's source text (for its parameter names), so that
  // opSignatures() can describe it to scripts/gen-native.mjs.
  const char* file;
  const char* source;
  TsSignature (*signature)();
};

// Each translation unit contributes a table of exports.
std::vector<Export>& registry();
struct Registrar {
  Registrar(std::initializer_list<Export> items) {
    for (auto& e : items) registry().push_back(e);
  }
};

// The lambda is a template argument once only, so its body is compiled once.
template <auto L>
Export makeExport(const char* name, const char* file, const char* source) {
  return Export{name, &entry<L>, file, source, &tsSignature<L>};
}

// TN_FN(name, lambda): one exported op in one line; its TypeScript declaration is generated from it.
#define TN_FN(NAME, ...) ::tnode::makeExport<__VA_ARGS__>(NAME, __FILE__, #__VA_ARGS__)

}  // namespace tnode
