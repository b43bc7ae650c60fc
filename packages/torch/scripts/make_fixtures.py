#!/usr/bin/python3
"""Reference values for the op tests, computed by PyTorch itself.

Run with Debian's python3-torch (the same LibTorch 1.13 the addon links):
    /usr/bin/python3 packages/torch/scripts/make_fixtures.py
Writes fixtures/ops.safetensors (inputs, outputs and gradients), fixtures/ops.json (the
parameters of each case) and fixtures/python_written.safetensors (a file written by this
script's independent safetensors encoder, to check byte compatibility).
"""
import json
import os
import struct

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "fixtures")

# safetensors dtype names, and the order the reference implementation lays tensors out in
# (its Dtype enum, largest first; ties broken by name).
ST_NAME = {torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
           torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
           torch.uint8: "U8", torch.bool: "BOOL"}
ST_RANK = ["BOOL", "U8", "I8", "I16", "F16", "BF16", "I32", "F32", "F64", "I64"]


def write_safetensors(path, tensors, metadata=None):
    items = sorted(tensors.items(), key=lambda kv: (-ST_RANK.index(ST_NAME[kv[1].dtype]), kv[0]))
    header = {}
    if metadata:
        header["__metadata__"] = metadata
    blobs, offset = [], 0
    for name, t in items:
        t = t.detach().contiguous()
        if t.dtype == torch.bfloat16:
            raw = t.view(torch.int16).numpy().tobytes()
        else:
            raw = t.numpy().tobytes()
        header[name] = {"dtype": ST_NAME[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blobs.append(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


store = {}
cases = []


def case(name, op, inputs, outputs, **kwargs):
    for k, v in inputs.items():
        store[f"{name}.{k}"] = v.detach().clone()
    for k, v in outputs.items():
        store[f"{name}.{k}"] = v.detach().clone()
    cases.append({"name": name, "op": op, "inputs": sorted(inputs), "outputs": sorted(outputs), "kwargs": kwargs})


def grads_of(y, leaves):
    """Backward of sum(y * r) with a fixed random r; returns r and the leaves' gradients."""
    r = torch.randn(y.shape, dtype=y.dtype)
    (y * r).sum().backward()
    return r, [leaf.grad for leaf in leaves]


torch.manual_seed(0)

# ---- convolutions (float64, so finite precision does not blur the comparison)
conv_specs = [
    ("conv3d_basic", 3, (2, 3, 5, 6, 7), (4, 3, 3, 3, 3), True, dict(stride=[1, 2, 2], padding=[1, 1, 1], dilation=[1, 1, 1], groups=1)),
    ("conv3d_groups", 3, (1, 4, 6, 6, 6), (4, 2, 3, 3, 3), False, dict(stride=[1, 1, 1], padding=[2, 2, 2], dilation=[2, 2, 2], groups=2)),
    ("conv2d_basic", 2, (2, 3, 9, 8), (5, 3, 3, 3), True, dict(stride=[2, 2], padding=[1, 0], dilation=[1, 1], groups=1)),
]
for name, nd, xs, ws, bias, kw in conv_specs:
    x = torch.randn(xs, dtype=torch.float64, requires_grad=True)
    w = torch.randn(ws, dtype=torch.float64, requires_grad=True)
    b = torch.randn(ws[0], dtype=torch.float64, requires_grad=True) if bias else None
    f = F.conv3d if nd == 3 else F.conv2d
    y = f(x, w, b, **kw)
    leaves = [x, w] + ([b] if bias else [])
    r, g = grads_of(y, leaves)
    ins = {"x": x, "w": w, "r": r}
    outs = {"y": y, "gx": g[0], "gw": g[1]}
    if bias:
        ins["b"] = b
        outs["gb"] = g[2]
    case(name, f"conv{nd}d", ins, outs, **kw)

convt_specs = [
    ("convt3d_nnunet", 3, (2, 6, 3, 4, 5), (6, 3, 2, 2, 2), False, dict(stride=[2, 2, 2], padding=[0, 0, 0], outputPadding=[0, 0, 0], groups=1, dilation=[1, 1, 1])),
    ("convt2d_outpad", 2, (1, 4, 5, 5), (4, 2, 3, 3), True, dict(stride=[2, 2], padding=[1, 1], outputPadding=[1, 1], groups=1, dilation=[1, 1])),
]
for name, nd, xs, ws, bias, kw in convt_specs:
    x = torch.randn(xs, dtype=torch.float64, requires_grad=True)
    w = torch.randn(ws, dtype=torch.float64, requires_grad=True)
    b = torch.randn(ws[1], dtype=torch.float64, requires_grad=True) if bias else None
    f = F.conv_transpose3d if nd == 3 else F.conv_transpose2d
    y = f(x, w, b, stride=kw["stride"], padding=kw["padding"], output_padding=kw["outputPadding"], groups=kw["groups"], dilation=kw["dilation"])
    leaves = [x, w] + ([b] if bias else [])
    r, g = grads_of(y, leaves)
    ins = {"x": x, "w": w, "r": r}
    outs = {"y": y, "gx": g[0], "gw": g[1]}
    if bias:
        ins["b"] = b
        outs["gb"] = g[2]
    case(name, f"convTranspose{nd}d", ins, outs, **kw)

# ---- normalisation
x = torch.randn(2, 4, 5, 6, 7, dtype=torch.float64, requires_grad=True) * 3 + 1
x.retain_grad()
w = torch.randn(4, dtype=torch.float64, requires_grad=True)
b = torch.randn(4, dtype=torch.float64, requires_grad=True)
y = F.instance_norm(x, weight=w, bias=b, eps=1e-5)
r, (gx, gw, gb) = grads_of(y, [x, w, b])
case("instance_norm", "instanceNorm", {"x": x, "w": w, "b": b, "r": r}, {"y": y, "gx": gx, "gw": gw, "gb": gb}, eps=1e-5)

x = torch.randn(3, 4, 5, 6, dtype=torch.float64, requires_grad=True)
w = torch.randn(4, dtype=torch.float64, requires_grad=True)
b = torch.randn(4, dtype=torch.float64, requires_grad=True)
rm0 = torch.randn(4, dtype=torch.float64)
rv0 = torch.rand(4, dtype=torch.float64) + 0.5
rm, rv = rm0.clone(), rv0.clone()
y = F.batch_norm(x, rm, rv, weight=w, bias=b, training=True, momentum=0.1, eps=1e-5)
r, (gx, gw, gb) = grads_of(y, [x, w, b])
case("batch_norm_train", "batchNorm", {"x": x, "w": w, "b": b, "r": r, "rm": rm0, "rv": rv0},
     {"y": y, "gx": gx, "gw": gw, "gb": gb, "rm_after": rm, "rv_after": rv}, momentum=0.1, eps=1e-5, training=True)
y2 = F.batch_norm(x.detach(), rm, rv, weight=w.detach(), bias=b.detach(), training=False, eps=1e-5)
case("batch_norm_eval", "batchNorm", {"x": x, "w": w, "b": b, "rm": rm, "rv": rv}, {"y": y2}, momentum=0.1, eps=1e-5, training=False)

# ---- activations
x = torch.randn(3, 7, dtype=torch.float64, requires_grad=True)
y = F.leaky_relu(x, 0.01)
r, (gx,) = grads_of(y, [x])
case("leaky_relu", "leakyRelu", {"x": x, "r": r}, {"y": y, "gx": gx}, slope=0.01)

# ---- pooling
x = torch.randn(2, 3, 6, 7, 8, dtype=torch.float64, requires_grad=True)
y = F.max_pool3d(x, kernel_size=2, stride=2)
r, (gx,) = grads_of(y, [x])
case("max_pool3d", "maxPool3d", {"x": x, "r": r}, {"y": y, "gx": gx}, kernel=2, stride=2, padding=0)
x = torch.randn(2, 3, 6, 7, 8, dtype=torch.float64, requires_grad=True)
y = F.avg_pool3d(x, kernel_size=3, stride=2, padding=1)
r, (gx,) = grads_of(y, [x])
case("avg_pool3d", "avgPool3d", {"x": x, "r": r}, {"y": y, "gx": gx}, kernel=3, stride=2, padding=1)
x = torch.randn(2, 3, 9, 8, dtype=torch.float64, requires_grad=True)
y = F.max_pool2d(x, kernel_size=3, stride=2, padding=1)
r, (gx,) = grads_of(y, [x])
case("max_pool2d", "maxPool2d", {"x": x, "r": r}, {"y": y, "gx": gx}, kernel=3, stride=2, padding=1)
x = torch.randn(2, 3, 9, 8, dtype=torch.float64, requires_grad=True)
y = F.avg_pool2d(x, kernel_size=2, stride=2)
r, (gx,) = grads_of(y, [x])
case("avg_pool2d", "avgPool2d", {"x": x, "r": r}, {"y": y, "gx": gx}, kernel=2, stride=2, padding=0)

# ---- interpolation
interp_specs = [
    ("interp_trilinear", (1, 2, 4, 5, 6), dict(size=[7, 9, 5], mode="trilinear", align_corners=False)),
    ("interp_trilinear_ac", (1, 2, 4, 5, 6), dict(size=[7, 9, 5], mode="trilinear", align_corners=True)),
    ("interp_nearest3d", (1, 2, 4, 5, 6), dict(size=[8, 3, 11], mode="nearest")),
    ("interp_bilinear", (2, 3, 5, 7), dict(size=[9, 4], mode="bilinear", align_corners=False)),
    ("interp_bicubic_ac", (2, 3, 5, 7), dict(size=[9, 12], mode="bicubic", align_corners=True)),
    ("interp_scale", (1, 1, 4, 6), dict(scale_factor=[2.0, 0.5], mode="bilinear", align_corners=False)),
]
for name, xs, kw in interp_specs:
    x = torch.randn(xs, dtype=torch.float64, requires_grad=True)
    y = F.interpolate(x, **kw)
    r, (gx,) = grads_of(y, [x])
    args = {"mode": kw["mode"]}
    if "size" in kw:
        args["size"] = kw["size"]
    if "scale_factor" in kw:
        args["scaleFactor"] = kw["scale_factor"]
    if "align_corners" in kw:
        args["alignCorners"] = kw["align_corners"]
    case(name, "interpolate", {"x": x, "r": r}, {"y": y, "gx": gx}, **args)

# ---- grid sampling
gs_specs = [
    ("grid_sample2d", (2, 3, 6, 7), (2, 5, 4, 2), dict(mode="bilinear", padding_mode="zeros", align_corners=False)),
    ("grid_sample2d_nearest", (1, 2, 6, 7), (1, 5, 4, 2), dict(mode="nearest", padding_mode="border", align_corners=True)),
    ("grid_sample2d_bicubic", (1, 2, 6, 7), (1, 5, 4, 2), dict(mode="bicubic", padding_mode="reflection", align_corners=False)),
    ("grid_sample3d", (2, 2, 5, 6, 7), (2, 3, 4, 5, 3), dict(mode="bilinear", padding_mode="border", align_corners=True)),
]
for name, xs, gsz, kw in gs_specs:
    x = torch.randn(xs, dtype=torch.float64, requires_grad=True)
    grid = (torch.rand(gsz, dtype=torch.float64) * 2.4 - 1.2).requires_grad_(True)
    y = F.grid_sample(x, grid, **kw)
    r, (gx, gg) = grads_of(y, [x, grid])
    outs = {"y": y, "gx": gx}
    if kw["mode"] != "nearest":
        outs["ggrid"] = gg
    case(name, "gridSample", {"x": x, "grid": grid, "r": r}, outs, mode=kw["mode"], paddingMode=kw["padding_mode"], alignCorners=kw["align_corners"])

theta = torch.randn(2, 2, 3, dtype=torch.float64)
case("affine_grid2d", "affineGrid", {"theta": theta}, {"y": F.affine_grid(theta, [2, 3, 4, 5], align_corners=False)}, size=[2, 3, 4, 5], alignCorners=False)
theta = torch.randn(2, 3, 4, dtype=torch.float64)
case("affine_grid3d", "affineGrid", {"theta": theta}, {"y": F.affine_grid(theta, [2, 1, 3, 4, 5], align_corners=True)}, size=[2, 1, 3, 4, 5], alignCorners=True)

# ---- softmax and losses
x = torch.randn(2, 4, 3, 5, dtype=torch.float64, requires_grad=True)
y = F.softmax(x, dim=1)
r, (gx,) = grads_of(y, [x])
case("softmax", "softmax", {"x": x, "r": r}, {"y": y, "gx": gx}, dim=1)
x = torch.randn(2, 4, 3, 5, dtype=torch.float64, requires_grad=True)
y = F.log_softmax(x, dim=1)
r, (gx,) = grads_of(y, [x])
case("log_softmax", "logSoftmax", {"x": x, "r": r}, {"y": y, "gx": gx}, dim=1)

x = torch.randn(3, 4, 5, 6, dtype=torch.float64, requires_grad=True)
t = torch.randint(0, 4, (3, 5, 6))
t[0, 0, :3] = 255
wt = torch.rand(4, dtype=torch.float64) + 0.5
y = F.cross_entropy(x, t, weight=wt, ignore_index=255)
y.backward()
case("cross_entropy", "crossEntropy", {"x": x, "t": t, "w": wt}, {"y": y, "gx": x.grad}, ignoreIndex=255, reduction="mean")
x = torch.randn(3, 4, 5, dtype=torch.float64, requires_grad=True)
t = torch.randint(0, 4, (3, 5))
y = F.cross_entropy(x, t, reduction="sum", label_smoothing=0.1)
y.backward()
case("cross_entropy_smooth", "crossEntropy", {"x": x, "t": t}, {"y": y, "gx": x.grad}, reduction="sum", labelSmoothing=0.1)
x = F.log_softmax(torch.randn(6, 3, dtype=torch.float64), 1).requires_grad_(True)
t = torch.tensor([0, 2, 1, 1, 0, 2])
y = F.nll_loss(x, t, reduction="none")
r, (gx,) = grads_of(y, [x])
case("nll_loss", "nllLoss", {"x": x, "t": t, "r": r}, {"y": y, "gx": gx}, reduction="none")
t = torch.tensor([[0, 3], [2, 1]])
case("one_hot", "oneHot", {"t": t}, {"y": F.one_hot(t, 5)}, numClasses=5)

# ---- optimizers: five steps on loss = sum(c * (p - target)^2) + sum(p^4) / 10
p0 = torch.randn(3, 4, dtype=torch.float32)
tgt = torch.randn(3, 4, dtype=torch.float32)
c = torch.rand(3, 4, dtype=torch.float32) + 0.5
store["optim.p0"], store["optim.target"], store["optim.c"] = p0.clone(), tgt.clone(), c.clone()
opt_specs = [
    ("sgd_nesterov", lambda ps: torch.optim.SGD(ps, lr=0.01, momentum=0.99, weight_decay=3e-5, nesterov=True), dict(kind="SGD", lr=0.01, momentum=0.99, weightDecay=3e-5, nesterov=True)),
    ("sgd_plain", lambda ps: torch.optim.SGD(ps, lr=0.1), dict(kind="SGD", lr=0.1)),
    ("sgd_dampening", lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, dampening=0.5), dict(kind="SGD", lr=0.05, momentum=0.9, dampening=0.5)),
    ("adam", lambda ps: torch.optim.Adam(ps, lr=0.01, betas=(0.9, 0.99), eps=1e-6, weight_decay=0.01), dict(kind="Adam", lr=0.01, betas=[0.9, 0.99], eps=1e-6, weightDecay=0.01)),
    ("adamw", lambda ps: torch.optim.AdamW(ps, lr=0.01, weight_decay=0.1), dict(kind="AdamW", lr=0.01, weightDecay=0.1)),
]
for name, make, kw in opt_specs:
    p = p0.clone().requires_grad_(True)
    opt = make([p])
    traj = []
    for _ in range(5):
        opt.zero_grad()
        loss = (c * (p - tgt) ** 2).sum() + (p ** 4).sum() / 10
        loss.backward()
        opt.step()
        traj.append(p.detach().clone())
    store[f"optim.{name}"] = torch.stack(traj)
    cases.append({"name": name, "op": "optimizer", "inputs": [], "outputs": [f"optim.{name}"], "kwargs": kw})

# gradient clipping: two parameters with known gradients
g1 = torch.randn(5, dtype=torch.float32) * 3
g2 = torch.randn(2, 3, dtype=torch.float32) * 3
a = torch.zeros(5, requires_grad=True)
bb = torch.zeros(2, 3, requires_grad=True)
a.grad, bb.grad = g1.clone(), g2.clone()
total = torch.nn.utils.clip_grad_norm_([a, bb], max_norm=2.0)
case("clip_grad_norm", "clipGradNorm", {"g1": g1, "g2": g2}, {"total": total.reshape(1), "g1_after": a.grad, "g2_after": bb.grad}, maxNorm=2.0)

# ---- CPU autocast: conv3d runs in bfloat16
x = torch.randn(1, 2, 4, 4, 4)
w = torch.randn(3, 2, 3, 3, 3)
with torch.autocast("cpu", dtype=torch.bfloat16):
    y = F.conv3d(x, w, padding=1)
case("autocast_conv3d", "autocastConv3d", {"x": x, "w": w}, {"y": y}, dtype=str(y.dtype).replace("torch.", ""))

os.makedirs(OUT, exist_ok=True)
write_safetensors(os.path.join(OUT, "ops.safetensors"), store, {"generator": "scripts/make_fixtures.py", "torch": torch.__version__})
with open(os.path.join(OUT, "ops.json"), "w") as f:
    json.dump({"torch": torch.__version__, "cases": cases}, f, indent=1)

# A small file with every dtype for the byte-compatibility test.
every = {
    "f64": torch.tensor([1.5, -2.25], dtype=torch.float64),
    "f32": torch.arange(6, dtype=torch.float32).reshape(2, 3) / 3,
    "f16": torch.tensor([0.5, -1.0, 65504.0], dtype=torch.float16),
    "bf16": torch.tensor([1.0, -3.5], dtype=torch.bfloat16),
    "i64": torch.tensor([-(2 ** 40), 7], dtype=torch.int64),
    "i32": torch.tensor([[1, -2], [3, -4]], dtype=torch.int32),
    "i16": torch.tensor([-300, 300], dtype=torch.int16),
    "i8": torch.tensor([-128, 127], dtype=torch.int8),
    "u8": torch.tensor([0, 255, 17], dtype=torch.uint8),
    "b": torch.tensor([True, False, True]),
    "scalar": torch.tensor(3.25, dtype=torch.float32),
    "empty": torch.zeros(0, 3, dtype=torch.float32),
}
write_safetensors(os.path.join(OUT, "python_written.safetensors"), every, {"format": "pt"})
print(f"wrote {len(store)} tensors in {len(cases)} cases to {os.path.normpath(OUT)}")
