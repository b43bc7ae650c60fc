// Neural-network ops (all differentiable through LibTorch's autograd).
#include <ATen/autocast_mode.h>

#include "binding.h"
#include "compat.h"

namespace tnode {
namespace {

using T = at::Tensor;
using OptT = std::optional<at::Tensor>;
using Shape = std::vector<int64_t>;
using OptShape = std::optional<std::vector<int64_t>>;

c10::optional<T> opt(const OptT& t) {
  if (t) return *t;
  return c10::nullopt;
}

int64_t reductionCode(const std::string& r) {
  if (r == "mean") return at::Reduction::Mean;
  if (r == "sum") return at::Reduction::Sum;
  if (r == "none") return at::Reduction::None;
  TORCH_CHECK(false, "reduction must be 'mean', 'sum' or 'none', got '", r, "'");
}

// Scale factors are only passed when no output size was given, like torch.nn.functional.
c10::optional<double> scaleAt(const std::optional<std::vector<double>>& s, size_t i) {
  if (!s || s->size() <= i) return c10::nullopt;
  return (*s)[i];
}

T interpolate(T x, std::string mode, Shape size, std::optional<std::vector<double>> scales, bool alignCorners) {
  const int64_t nd = x.dim() - 2;
  TORCH_CHECK(static_cast<int64_t>(size.size()) == nd, "interpolate: size needs ", nd, " values for input of shape ",
              x.sizes());
  if (mode == "nearest") {
    if (nd == 1) return at::upsample_nearest1d(x, size, scaleAt(scales, 0));
    if (nd == 2) return at::upsample_nearest2d(x, size, scaleAt(scales, 0), scaleAt(scales, 1));
    if (nd == 3) return at::upsample_nearest3d(x, size, scaleAt(scales, 0), scaleAt(scales, 1), scaleAt(scales, 2));
  }
  if (mode == "linear" && nd == 1) return at::upsample_linear1d(x, size, alignCorners, scaleAt(scales, 0));
  if (mode == "bilinear" && nd == 2)
    return at::upsample_bilinear2d(x, size, alignCorners, scaleAt(scales, 0), scaleAt(scales, 1));
  if (mode == "bicubic" && nd == 2)
    return at::upsample_bicubic2d(x, size, alignCorners, scaleAt(scales, 0), scaleAt(scales, 1));
  if (mode == "trilinear" && nd == 3)
    return at::upsample_trilinear3d(x, size, alignCorners, scaleAt(scales, 0), scaleAt(scales, 1), scaleAt(scales, 2));
  TORCH_CHECK(false, "interpolate: mode '", mode, "' does not apply to input of shape ", x.sizes());
}

// A transposed convolution whose kernel equals its stride (no padding, dilation or groups) writes
// every output voxel from exactly one input voxel: it is one matrix product of the voxels' channel
// vectors with the weight, followed by a re-arrangement of the kernel offsets into space.
bool transposeIsMatmul(const T& x, const T& w, const Shape& stride, const Shape& pad, const Shape& dil,
                       const Shape& outPad, int64_t groups) {
  if (groups != 1 || x.dim() != w.dim() || x.dim() < 4 || x.dim() > 5) return false;
  for (size_t i = 0; i < stride.size(); ++i)
    if (w.size(2 + i) != stride[i] || pad[i] != 0 || dil[i] != 1 || outPad[i] != 0) return false;
  return true;
}

T transposeByMatmul(const T& x, const T& w, const OptT& b) {
  const int64_t nd = x.dim() - 2, batch = x.size(0), cin = x.size(1), cout = w.size(1);
  // [B, Cin, *S] -> [B * prod(S), Cin] @ [Cin, Cout * prod(K)]; at::mm follows autocast's rules.
  T rows = at::mm(x.movedim(1, -1).reshape({-1, cin}), w.reshape({cin, -1}));
  Shape split{batch};
  for (int64_t i = 0; i < nd; ++i) split.push_back(x.size(2 + i));
  split.push_back(cout);
  for (int64_t i = 0; i < nd; ++i) split.push_back(w.size(2 + i));
  // [B, *S, Cout, *K] -> [B, Cout, S0, K0, S1, K1, ...] -> [B, Cout, S0 * K0, ...]
  Shape order{0, nd + 1};
  Shape out{batch, cout};
  for (int64_t i = 0; i < nd; ++i) {
    order.push_back(1 + i);
    order.push_back(nd + 2 + i);
    out.push_back(x.size(2 + i) * w.size(2 + i));
  }
  T y = rows.view(split).permute(order).reshape(out);
  if (b) {
    Shape bshape(static_cast<size_t>(nd + 2), 1);
    bshape[1] = cout;
    y = y + b->to(y.scalar_type()).view(bshape);
  }
  return y;
}

Registrar nnExports{
    TN_FN("convolution",
          [](T x, T w, OptT b, Shape stride, Shape pad, Shape dil, bool transposed, Shape outPad, int64_t groups) {
            // The per-dimension ops (not at::convolution) are what autocast and torch.nn.functional use.
            const size_t nd = stride.size();
            if (!transposed) {
              if (nd == 3) return at::conv3d(x, w, opt(b), stride, pad, dil, groups);
              if (nd == 2) return at::conv2d(x, w, opt(b), stride, pad, dil, groups);
              return at::conv1d(x, w, opt(b), stride, pad, dil, groups);
            }
            // LibTorch 1.13's CPU autocast runs transposed convolutions in float32 (their CPU kernel has no
            // bf16 path), which casts the decoder back and forth; the matrix form runs in autocast's dtype.
            if (x.is_cpu() && compat::autocastEnabled(c10::DeviceType::CPU) && transposeIsMatmul(x, w, stride, pad, dil, outPad, groups))
              return transposeByMatmul(x, w, b);
            if (nd == 3) return at::conv_transpose3d(x, w, opt(b), stride, pad, outPad, groups, dil);
            if (nd == 2) return at::conv_transpose2d(x, w, opt(b), stride, pad, outPad, groups, dil);
            return at::conv_transpose1d(x, w, opt(b), stride, pad, outPad, groups, dil);
          }),
    TN_FN("linear", [](T x, T w, OptT b) { return at::linear(x, w, opt(b)); }),
    TN_FN("instanceNorm",
          [](T x, OptT w, OptT b, OptT rm, OptT rv, bool useInputStats, double momentum, double eps) {
            return at::instance_norm(x, opt(w), opt(b), opt(rm), opt(rv), useInputStats, momentum, eps,
                                     at::globalContext().userEnabledCuDNN());
          }),
    TN_FN("instanceNormLeakyRelu",
          [](T x, OptT w, OptT b, double eps, double slope) {
            // at::instance_norm's own steps (batch norm over [1, B * C, ...]), with the leaky ReLU applied in
            // place to the normalised tensor before it is viewed back: autograd then records no CopySlices
            // (and none of its full-size copies), which an in-place op on instance_norm's returned view does.
            Shape shape = x.sizes().vec();
            const int64_t batch = shape[0];
            Shape flat = shape;
            flat[0] = 1;
            flat[1] = batch * shape[1];
            T y = at::batch_norm(x.contiguous().view(flat), w ? c10::optional<T>(w->repeat({batch})) : c10::nullopt,
                                 b ? c10::optional<T>(b->repeat({batch})) : c10::nullopt, c10::nullopt, c10::nullopt,
                                 true, 0.0, eps, at::globalContext().userEnabledCuDNN());
            at::leaky_relu_(y, slope);
            return y.view(shape);
          }),
    TN_FN("batchNorm",
          [](T x, OptT w, OptT b, OptT rm, OptT rv, bool training, double momentum, double eps) {
            return at::batch_norm(x, opt(w), opt(b), opt(rm), opt(rv), training, momentum, eps,
                                  at::globalContext().userEnabledCuDNN());
          }),
    TN_FN("groupNorm",
          [](T x, int64_t g, OptT w, OptT b, double eps) { return at::group_norm(x, g, opt(w), opt(b), eps); }),
    TN_FN("layerNorm",
          [](T x, Shape s, OptT w, OptT b, double eps) { return at::layer_norm(x, s, opt(w), opt(b), eps); }),
    TN_FN("relu", [](T x) { return at::relu(x); }),
    TN_FN("relu_", [](T x) { at::relu_(x); }),
    TN_FN("leakyRelu", [](T x, double slope) { return at::leaky_relu(x, slope); }),
    TN_FN("leakyRelu_", [](T x, double slope) { at::leaky_relu_(x, slope); }),
    TN_FN("gelu", [](T x) { return at::gelu(x); }),
    TN_FN("dropout", [](T x, double p, bool train) { return at::dropout(x, p, train); }),
    TN_FN("featureDropout", [](T x, double p, bool train) { return at::feature_dropout(x, p, train); }),
    TN_FN("maxPool",
          [](T x, Shape k, Shape s, Shape p, Shape d, bool ceil) {
            if (k.size() == 3) return at::max_pool3d(x, k, s, p, d, ceil);
            if (k.size() == 2) return at::max_pool2d(x, k, s, p, d, ceil);
            return at::max_pool1d(x, k, s, p, d, ceil);
          }),
    TN_FN("avgPool",
          [](T x, Shape k, Shape s, Shape p, bool ceil, bool countPad) {
            if (k.size() == 3) return at::avg_pool3d(x, k, s, p, ceil, countPad);
            if (k.size() == 2) return at::avg_pool2d(x, k, s, p, ceil, countPad);
            return at::avg_pool1d(x, k, s, p, ceil, countPad);
          }),
    TN_FN("adaptiveAvgPool",
          [](T x, Shape out) {
            if (out.size() == 3) return at::adaptive_avg_pool3d(x, out);
            return at::adaptive_avg_pool2d(x, out);
          }),
    TN_FN("interpolate",
          [](T x, std::string mode, Shape size, std::optional<std::vector<double>> scales, bool alignCorners) {
            return interpolate(x, mode, size, scales, alignCorners);
          }),
    TN_FN("gridSample",
          [](T x, T grid, int64_t interp, int64_t padding, bool alignCorners) {
            return at::grid_sampler(x, grid, interp, padding, alignCorners);
          }),
    TN_FN("affineGrid",
          [](T theta, Shape size, bool alignCorners) { return at::affine_grid_generator(theta, size, alignCorners); }),
    TN_FN("softmax",
          [](T x, int64_t d, std::optional<at::ScalarType> dt) {
            return at::softmax(x, d, dt ? c10::optional<at::ScalarType>(*dt) : c10::nullopt);
          }),
    TN_FN("logSoftmax",
          [](T x, int64_t d, std::optional<at::ScalarType> dt) {
            return at::log_softmax(x, d, dt ? c10::optional<at::ScalarType>(*dt) : c10::nullopt);
          }),
    TN_FN("crossEntropy",
          [](T x, T target, OptT w, std::string red, int64_t ignore, double smoothing) {
            return at::cross_entropy_loss(x, target, opt(w), reductionCode(red), ignore, smoothing);
          }),
    TN_FN("nllLoss",
          [](T x, T target, OptT w, std::string red, int64_t ignore) {
            return at::nll_loss_nd(x, target, opt(w), reductionCode(red), ignore);
          }),
    TN_FN("mseLoss", [](T a, T b, std::string red) { return at::mse_loss(a, b, reductionCode(red)); }),
    TN_FN("l1Loss", [](T a, T b, std::string red) { return at::l1_loss(a, b, reductionCode(red)); }),
    TN_FN("bceWithLogits",
          [](T x, T y, OptT w, OptT pw, std::string red) {
            return at::binary_cross_entropy_with_logits(x, y, opt(w), opt(pw), reductionCode(red));
          }),
};

}  // namespace
}  // namespace tnode
