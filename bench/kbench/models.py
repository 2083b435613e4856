"""The six seed programs as layer lists (the same stacks as examples/*.kiln),
their analytic FLOP counts, and the synthetic batches every system times.

Layer names and parameter layouts are Keras's (and Kiln's): conv2d, conv2d_1,
..., dense, dense_1; kernels [kh, kw, in, out] and [in, out]; NHWC images.
"""
import numpy as np

CNN = [("conv", 32, "relu"), ("pool",), ("conv", 64, "relu"), ("pool",), ("conv", 64, "relu"),
       ("flatten",), ("dense", 64, "relu")]

EXAMPLES = {
    "mnist_cnn": dict(input=(28, 28, 1), layers=CNN + [("dense", 10, "softmax")],
                      loss="sparse_categorical_crossentropy", optimizer="adam", lr=1e-3),
    "cifar10_cnn": dict(input=(32, 32, 3), layers=CNN + [("dense", 10, "softmax")],
                        loss="categorical_crossentropy", optimizer="adam", lr=1e-3),
    "cifar10_cnn_logits": dict(input=(32, 32, 3), layers=CNN + [("dense", 10, None)],
                               loss="sparse_categorical_crossentropy_logits", optimizer="adam", lr=1e-3),
    "cifar10_mlp": dict(input=(32, 32, 3), layers=[("flatten",), ("dense", 64, "relu"), ("dense", 10, "softmax")],
                        loss="sparse_categorical_crossentropy", optimizer="adam", lr=1e-3),
    "binary_classifier": dict(input=(2,), layers=[("dense", 64, "relu"), ("dense", 1, "sigmoid")],
                              loss="binary_crossentropy", optimizer="sgd", lr=0.01),
    "linear_regression": dict(input=(1,), layers=[("dense", 1, None)],
                              loss="mse", optimizer="sgd", lr=0.1),
}
ORDER = ["mnist_cnn", "cifar10_cnn", "cifar10_cnn_logits", "cifar10_mlp", "binary_classifier",
         "linear_regression"]


def walk(name):
    """Yields (kind, layer_name, in_shape, out_shape, extra) for every layer."""
    spec = EXAMPLES[name]
    shape = tuple(spec["input"])
    counts = {}
    for layer in spec["layers"]:
        kind = layer[0]
        base = {"conv": "conv2d", "pool": "max_pooling2d", "flatten": "flatten", "dense": "dense"}[kind]
        k = counts.get(base, 0)
        counts[base] = k + 1
        lname = base if k == 0 else "%s_%d" % (base, k)
        if kind == "conv":
            h, w, c = shape
            out = (h - 2, w - 2, layer[1])
            yield kind, lname, shape, out, dict(kernel=(3, 3, c, layer[1]), act=layer[2])
        elif kind == "pool":
            h, w, c = shape
            out = (h // 2, w // 2, c)
            yield kind, lname, shape, out, {}
        elif kind == "flatten":
            out = (int(np.prod(shape)),)
            yield kind, lname, shape, out, {}
        else:
            out = (layer[1],)
            yield kind, lname, shape, out, dict(kernel=(shape[0], layer[1]), act=layer[2])
        shape = out


def output_size(name):
    return list(walk(name))[-1][3][0]


def param_shapes(name):
    """{'conv2d/kernel': (3, 3, 1, 32), 'conv2d/bias': (32,), ...} in model order."""
    out = {}
    for kind, lname, _, _, extra in walk(name):
        if kind in ("conv", "dense"):
            out[lname + "/kernel"] = extra["kernel"]
            out[lname + "/bias"] = (extra["kernel"][-1],)
    return out


def flops(name):
    """Analytic FLOPs per example (1 multiply-add = 2 FLOPs), convolutions and
    matrix products only (activations, pooling, loss and optimizer are left out:
    they are < 2 % of a CNN step).

    forward: sum over layers of 2 * MACs; train step: forward + weight gradients
    (2 * MACs per layer) + input gradients (2 * MACs per layer except the first,
    whose input needs no gradient). For mnist_cnn at batch 64 this is 1.05 GFLOP."""
    fwd = bwd_w = bwd_x = 0
    first = True
    for kind, _, _, out, extra in walk(name):
        if kind == "conv":
            kh, kw, cin, cout = extra["kernel"]
            macs = out[0] * out[1] * cout * kh * kw * cin
        elif kind == "dense":
            macs = extra["kernel"][0] * extra["kernel"][1]
        else:
            continue
        fwd += 2 * macs
        bwd_w += 2 * macs
        if not first:
            bwd_x += 2 * macs
        first = False
    return {"predict": fwd, "train": fwd + bwd_w + bwd_x}


def labels_kind(name):
    loss = EXAMPLES[name]["loss"]
    if loss.startswith("sparse"):
        return "sparse"
    if loss == "categorical_crossentropy":
        return "onehot"
    return "float"


def make_batch(name, batch, seed):
    """Synthetic inputs and labels (timing does not depend on the values; the
    same arrays go to every system)."""
    rng = np.random.default_rng(seed)
    spec = EXAMPLES[name]
    x = rng.random((batch,) + tuple(spec["input"]), dtype=np.float32)
    k = output_size(name)
    kind = labels_kind(name)
    if kind == "sparse":
        y = rng.integers(0, k, size=(batch,), dtype=np.int32)
    elif kind == "onehot":
        y = np.eye(k, dtype=np.float32)[rng.integers(0, k, size=(batch,))]
    elif spec["loss"] == "binary_crossentropy":
        y = rng.integers(0, 2, size=(batch, 1)).astype(np.float32)
    else:
        y = (2 * x[:, :1] + 1 + rng.standard_normal((batch, 1), dtype=np.float32)).astype(np.float32)
    return x, y


def load_mnist(path):
    """The IDX files of data/mnist-10k: x f32 [N, 28, 28, 1] / 255, y i32 [N]."""
    import gzip
    import os

    def read(fn):
        p = os.path.join(path, fn)
        if os.path.exists(p + ".gz"):
            return gzip.open(p + ".gz", "rb").read()
        return open(p, "rb").read()

    img = read("images-idx3-ubyte")
    lab = read("labels-idx1-ubyte")
    n, r, c = (int.from_bytes(img[i:i + 4], "big") for i in (4, 8, 12))
    x = np.frombuffer(img, np.uint8, n * r * c, 16).reshape(n, r, c, 1).astype(np.float32) / 255.0
    y = np.frombuffer(lab, np.uint8, n, 8).astype(np.int32)
    return x, y
