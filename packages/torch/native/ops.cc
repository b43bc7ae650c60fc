// Views, indexing, elementwise math, comparisons and reductions: one line per op.
#include "binding.h"

namespace tnode {
namespace {

using T = at::Tensor;
using S = at::Scalar;
using Shape = std::vector<int64_t>;
using Dims = std::optional<std::vector<int64_t>>;
using OptS = std::optional<at::Scalar>;

at::OptionalIntArrayRef dimsRef(const Dims& d) {
  if (!d) return c10::nullopt;
  return at::IntArrayRef(*d);
}

c10::optional<at::Scalar> optScalar(const OptS& s) {
  if (s) return *s;
  return c10::nullopt;
}

// 'channels_last' (4-D), 'channels_last_3d' (5-D) or 'contiguous', torch.memory_format's names.
at::MemoryFormat memoryFormat(const std::string& f) {
  if (f == "contiguous") return at::MemoryFormat::Contiguous;
  if (f == "channels_last") return at::MemoryFormat::ChannelsLast;
  if (f == "channels_last_3d") return at::MemoryFormat::ChannelsLast3d;
  TORCH_CHECK(false, "memory format must be 'contiguous', 'channels_last' or 'channels_last_3d', got '", f, "'");
}

Registrar viewExports{
    // ---- conversion and copies
    TN_FN("to", [](T t, std::string dev, at::ScalarType d, bool copy) { return t.to(c10::Device(dev), d, false, copy); }),
    TN_FN("contiguous", [](T t) { return t.contiguous(); }),
    TN_FN("contiguousAs", [](T t, std::string f) { return t.contiguous(memoryFormat(f)); }),
    TN_FN("isContiguousAs", [](T t, std::string f) { return t.is_contiguous(memoryFormat(f)); }),
    TN_FN("clone", [](T t) { return t.clone(); }),
    TN_FN("copy_", [](T t, T src) { t.copy_(src); }),
    TN_FN("alias", [](T t) { return t.alias(); }),

    // ---- views
    TN_FN("reshape", [](T t, Shape s) { return t.reshape(s); }),
    TN_FN("view", [](T t, Shape s) { return t.view(s); }),
    TN_FN("permute", [](T t, Shape d) { return t.permute(d); }),
    TN_FN("transpose", [](T t, int64_t a, int64_t b) { return t.transpose(a, b); }),
    TN_FN("squeeze", [](T t, std::optional<int64_t> d) { return d ? t.squeeze(*d) : t.squeeze(); }),
    TN_FN("unsqueeze", [](T t, int64_t d) { return t.unsqueeze(d); }),
    TN_FN("expand", [](T t, Shape s) { return t.expand(s); }),
    TN_FN("repeat", [](T t, Shape r) { return t.repeat(r); }),
    TN_FN("flip", [](T t, Shape d) { return t.flip(d); }),
    TN_FN("narrow", [](T t, int64_t d, int64_t start, int64_t len) { return t.narrow(d, start, len); }),
    TN_FN("slice",
          [](T t, int64_t d, std::optional<int64_t> a, std::optional<int64_t> b, int64_t step) {
            return t.slice(d, a ? c10::optional<int64_t>(*a) : c10::nullopt,
                           b ? c10::optional<int64_t>(*b) : c10::nullopt, step);
          }),
    TN_FN("select", [](T t, int64_t d, int64_t i) { return t.select(d, i); }),
    TN_FN("indexSelect", [](T t, int64_t d, T idx) { return t.index_select(d, idx); }),
    TN_FN("gather", [](T t, int64_t d, T idx) { return t.gather(d, idx); }),
    TN_FN("scatter", [](T t, int64_t d, T idx, T src) { return t.scatter(d, idx, src); }),
    TN_FN("scatterAdd", [](T t, int64_t d, T idx, T src) { return t.scatter_add(d, idx, src); }),
    TN_FN("maskedFill", [](T t, T m, S v) { return t.masked_fill(m, v); }),
    TN_FN("maskedFill_", [](T t, T m, S v) { t.masked_fill_(m, v); }),
    TN_FN("maskedSelect", [](T t, T m) { return t.masked_select(m); }),
    TN_FN("where", [](T c, T a, T b) { return at::where(c, a, b); }),
    TN_FN("whereScalar", [](T c, S a, S b) { return at::where(c, a, b); }),
    TN_FN("nonzero", [](T t) { return t.nonzero(); }),
    TN_FN("indexTensor",
          [](T t, std::vector<std::optional<T>> idx) {
            c10::List<c10::optional<T>> l;
            for (auto& i : idx) l.push_back(i ? c10::optional<T>(*i) : c10::nullopt);
            return t.index(l);
          }),
    TN_FN("indexPut_",
          [](T t, std::vector<std::optional<T>> idx, T v, bool acc) {
            c10::List<c10::optional<T>> l;
            for (auto& i : idx) l.push_back(i ? c10::optional<T>(*i) : c10::nullopt);
            t.index_put_(l, v, acc);
          }),
    TN_FN("cat", [](std::vector<T> ts, int64_t d) { return at::cat(ts, d); }),
    TN_FN("stack", [](std::vector<T> ts, int64_t d) { return at::stack(ts, d); }),
    TN_FN("split", [](T t, int64_t size, int64_t d) { return t.split(size, d); }),
    TN_FN("splitWithSizes", [](T t, Shape sizes, int64_t d) { return t.split_with_sizes(sizes, d); }),
    TN_FN("chunk", [](T t, int64_t n, int64_t d) { return t.chunk(n, d); }),
    TN_FN("unbind", [](T t, int64_t d) { return t.unbind(d); }),
    TN_FN("padConstant", [](T t, Shape p, S v) { return at::constant_pad_nd(t, p, v); }),
    TN_FN("padReflect",
          [](T t, Shape p) {
            switch (p.size()) {
              case 2: return at::reflection_pad1d(t, p);
              case 4: return at::reflection_pad2d(t, p);
              case 6: return at::reflection_pad3d(t, p);
            }
            TORCH_CHECK(false, "reflect padding takes 2, 4 or 6 values, got ", p.size());
          }),
    TN_FN("padReplicate",
          [](T t, Shape p) {
            switch (p.size()) {
              case 2: return at::replication_pad1d(t, p);
              case 4: return at::replication_pad2d(t, p);
              case 6: return at::replication_pad3d(t, p);
            }
            TORCH_CHECK(false, "replicate padding takes 2, 4 or 6 values, got ", p.size());
          }),
    TN_FN("tril", [](T t, int64_t k) { return t.tril(k); }),
    TN_FN("triu", [](T t, int64_t k) { return t.triu(k); }),
    TN_FN("roll", [](T t, Shape s, Shape d) { return t.roll(s, d); }),
    TN_FN("oneHot", [](T t, int64_t n) { return at::one_hot(t, n); }),
};

Registrar mathExports{
    // ---- arithmetic (tensor/tensor and tensor/scalar, broadcasting)
    TN_FN("add", [](T a, T b, S alpha) { return at::add(a, b, alpha); }),
    TN_FN("addScalar", [](T a, S b) { return at::add(a, b); }),
    TN_FN("sub", [](T a, T b, S alpha) { return at::sub(a, b, alpha); }),
    TN_FN("subScalar", [](T a, S b) { return at::sub(a, b); }),
    TN_FN("rsubScalar", [](T a, S b) { return at::rsub(a, b); }),
    TN_FN("mul", [](T a, T b) { return at::mul(a, b); }),
    TN_FN("mulScalar", [](T a, S b) { return at::mul(a, b); }),
    TN_FN("div", [](T a, T b) { return at::div(a, b); }),
    TN_FN("divScalar", [](T a, S b) { return at::div(a, b); }),
    TN_FN("divMode",
          [](T a, T b, std::string mode) { return at::div(a, b, c10::string_view(mode)); }),
    TN_FN("remainder", [](T a, T b) { return at::remainder(a, b); }),
    TN_FN("remainderScalar", [](T a, S b) { return at::remainder(a, b); }),
    TN_FN("pow", [](T a, T b) { return at::pow(a, b); }),
    TN_FN("powScalar", [](T a, S b) { return at::pow(a, b); }),
    TN_FN("matmul", [](T a, T b) { return at::matmul(a, b); }),
    TN_FN("maximum", [](T a, T b) { return at::maximum(a, b); }),
    TN_FN("minimum", [](T a, T b) { return at::minimum(a, b); }),
    TN_FN("neg", [](T a) { return at::neg(a); }),
    TN_FN("exp", [](T a) { return at::exp(a); }),
    TN_FN("log", [](T a) { return at::log(a); }),
    TN_FN("log1p", [](T a) { return at::log1p(a); }),
    TN_FN("sqrt", [](T a) { return at::sqrt(a); }),
    TN_FN("rsqrt", [](T a) { return at::rsqrt(a); }),
    TN_FN("abs", [](T a) { return at::abs(a); }),
    TN_FN("sign", [](T a) { return at::sign(a); }),
    TN_FN("floor", [](T a) { return at::floor(a); }),
    TN_FN("ceil", [](T a) { return at::ceil(a); }),
    TN_FN("round", [](T a) { return at::round(a); }),
    TN_FN("reciprocal", [](T a) { return at::reciprocal(a); }),
    TN_FN("sin", [](T a) { return at::sin(a); }),
    TN_FN("cos", [](T a) { return at::cos(a); }),
    TN_FN("tanh", [](T a) { return at::tanh(a); }),
    TN_FN("sigmoid", [](T a) { return at::sigmoid(a); }),
    TN_FN("clamp", [](T a, OptS lo, OptS hi) { return at::clamp(a, optScalar(lo), optScalar(hi)); }),
    TN_FN("clampTensor", [](T a, std::optional<T> lo, std::optional<T> hi) {
      return at::clamp(a, lo ? c10::optional<T>(*lo) : c10::nullopt, hi ? c10::optional<T>(*hi) : c10::nullopt);
    }),
    TN_FN("lerp", [](T a, T b, S w) { return at::lerp(a, b, w); }),

    // ---- in place (return nothing; the TS side returns `this`)
    TN_FN("add_", [](T a, T b, S alpha) { a.add_(b, alpha); }),
    TN_FN("addScalar_", [](T a, S b) { a.add_(b); }),
    TN_FN("sub_", [](T a, T b, S alpha) { a.sub_(b, alpha); }),
    TN_FN("mul_", [](T a, T b) { a.mul_(b); }),
    TN_FN("mulScalar_", [](T a, S b) { a.mul_(b); }),
    TN_FN("div_", [](T a, T b) { a.div_(b); }),
    TN_FN("divScalar_", [](T a, S b) { a.div_(b); }),
    TN_FN("addcmul_", [](T a, T b, T c, S v) { a.addcmul_(b, c, v); }),
    TN_FN("addcdiv_", [](T a, T b, T c, S v) { a.addcdiv_(b, c, v); }),
    TN_FN("lerp_", [](T a, T b, S w) { a.lerp_(b, w); }),
    TN_FN("sqrt_", [](T a) { a.sqrt_(); }),
    TN_FN("exp_", [](T a) { a.exp_(); }),
    TN_FN("neg_", [](T a) { a.neg_(); }),
    TN_FN("zero_", [](T a) { a.zero_(); }),
    TN_FN("fill_", [](T a, S v) { a.fill_(v); }),
    TN_FN("clamp_", [](T a, OptS lo, OptS hi) { a.clamp_(optScalar(lo), optScalar(hi)); }),

    // ---- comparisons and logic
    TN_FN("eq", [](T a, T b) { return at::eq(a, b); }),
    TN_FN("eqScalar", [](T a, S b) { return at::eq(a, b); }),
    TN_FN("ne", [](T a, T b) { return at::ne(a, b); }),
    TN_FN("neScalar", [](T a, S b) { return at::ne(a, b); }),
    TN_FN("lt", [](T a, T b) { return at::lt(a, b); }),
    TN_FN("ltScalar", [](T a, S b) { return at::lt(a, b); }),
    TN_FN("le", [](T a, T b) { return at::le(a, b); }),
    TN_FN("leScalar", [](T a, S b) { return at::le(a, b); }),
    TN_FN("gt", [](T a, T b) { return at::gt(a, b); }),
    TN_FN("gtScalar", [](T a, S b) { return at::gt(a, b); }),
    TN_FN("ge", [](T a, T b) { return at::ge(a, b); }),
    TN_FN("geScalar", [](T a, S b) { return at::ge(a, b); }),
    TN_FN("logicalAnd", [](T a, T b) { return at::logical_and(a, b); }),
    TN_FN("logicalOr", [](T a, T b) { return at::logical_or(a, b); }),
    TN_FN("logicalXor", [](T a, T b) { return at::logical_xor(a, b); }),
    TN_FN("logicalNot", [](T a) { return at::logical_not(a); }),
    TN_FN("isnan", [](T a) { return at::isnan(a); }),
    TN_FN("isinf", [](T a) { return at::isinf(a); }),
    TN_FN("isfinite", [](T a) { return at::isfinite(a); }),
    TN_FN("allclose", [](T a, T b, double rtol, double atol) { return at::allclose(a, b, rtol, atol); }),
    TN_FN("equal", [](T a, T b) { return at::equal(a, b); }),

    // ---- reductions
    TN_FN("sum",
          [](T t, Dims d, bool keep, std::optional<at::ScalarType> dt) {
            return at::sum(t, dimsRef(d), keep, dt ? c10::optional<at::ScalarType>(*dt) : c10::nullopt);
          }),
    TN_FN("mean",
          [](T t, Dims d, bool keep) {
            if (!d) return keep ? t.mean(at::IntArrayRef{}, true) : t.mean();
            return t.mean(*d, keep);
          }),
    TN_FN("prod", [](T t, std::optional<int64_t> d, bool keep) { return d ? t.prod(*d, keep) : t.prod(); }),
    TN_FN("var",
          [](T t, Dims d, int64_t correction, bool keep) {
            return at::var(t, dimsRef(d), c10::optional<int64_t>(correction), keep);
          }),
    TN_FN("std",
          [](T t, Dims d, int64_t correction, bool keep) {
            return at::std(t, dimsRef(d), c10::optional<int64_t>(correction), keep);
          }),
    TN_FN("amax", [](T t, Shape d, bool keep) { return at::amax(t, d, keep); }),
    TN_FN("amin", [](T t, Shape d, bool keep) { return at::amin(t, d, keep); }),
    TN_FN("maxAll", [](T t) { return t.max(); }),
    TN_FN("minAll", [](T t) { return t.min(); }),
    TN_FN("maxDim", [](T t, int64_t d, bool keep) { return t.max(d, keep); }),
    TN_FN("minDim", [](T t, int64_t d, bool keep) { return t.min(d, keep); }),
    TN_FN("argmax",
          [](T t, std::optional<int64_t> d, bool keep) {
            return at::argmax(t, d ? c10::optional<int64_t>(*d) : c10::nullopt, keep);
          }),
    TN_FN("argmin",
          [](T t, std::optional<int64_t> d, bool keep) {
            return at::argmin(t, d ? c10::optional<int64_t>(*d) : c10::nullopt, keep);
          }),
    TN_FN("topk", [](T t, int64_t k, int64_t d, bool largest, bool sorted) { return t.topk(k, d, largest, sorted); }),
    TN_FN("sort", [](T t, int64_t d, bool desc) { return t.sort(d, desc); }),
    TN_FN("argsort", [](T t, int64_t d, bool desc) { return t.argsort(d, desc); }),
    TN_FN("cumsum", [](T t, int64_t d) { return t.cumsum(d); }),
    TN_FN("logsumexp", [](T t, Shape d, bool keep) { return at::logsumexp(t, d, keep); }),
    TN_FN("norm", [](T t, double p, Dims d, bool keep) {
      if (!d) return at::norm(t, p);
      return at::norm(t, p, *d, keep);
    }),
    TN_FN("any", [](T t, std::optional<int64_t> d, bool keep) { return d ? t.any(*d, keep) : t.any(); }),
    TN_FN("all", [](T t, std::optional<int64_t> d, bool keep) { return d ? t.all(*d, keep) : t.all(); }),
    TN_FN("bincount",
          [](T t, std::optional<T> w, int64_t minlength) {
            return at::bincount(t, w ? c10::optional<T>(*w) : c10::nullopt, minlength);
          }),
    TN_FN("unique",
          [](T t, bool sorted, bool inverse, bool counts) {
            return at::_unique2(t, sorted, inverse, counts);
          }),
};

}  // namespace
}  // namespace tnode
