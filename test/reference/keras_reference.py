#!/usr/bin/env python3
"""An independent NumPy reference for training the MNIST CNN with Keras semantics.

Written from Keras 3's definitions (keras/src/optimizers/{sgd,adam,adamw,rmsprop}.py,
keras/src/losses, keras/src/layers), in float64, with hand-derived backward
passes; it shares nothing with Kiln. GradientTest.cpp drives it:

    keras_reference.py DIR OPTIMIZER [key=value ...]

DIR holds manifest.txt ("param NAME d0,d1,..." lines in the model's order,
then "batch N", "steps S"), raw little-endian float32 files param_<i>.bin,
x_<k>.bin (N,28,28,1) and y_<k>.bin (int32 labels) for each batch k; step s
uses batch s % batches. Writes final_<i>.bin (float32) and losses.txt.

Model (examples/mnist_cnn.kiln): Conv2D(32,3x3,relu) MaxPool(2x2)
Conv2D(64,3x3,relu) MaxPool(2x2) Conv2D(64,3x3,relu) Flatten Dense(64,relu)
Dense(10,softmax); loss sparse categorical cross-entropy (from the softmax's
logits, as Keras's TensorFlow backend computes it), mean over the batch.
"""
import os
import sys

import numpy as np


def conv_forward(x, w):
    kh, kw = w.shape[:2]
    patches = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(1, 2))  # n,oh,ow,c,kh,kw
    return np.einsum("nhwckl,klcf->nhwf", patches, w), patches


def conv_backward(dy, x, w, patches):
    kh, kw = w.shape[:2]
    dw = np.einsum("nhwckl,nhwf->klcf", patches, dy)
    dx = np.zeros_like(x)
    oh, ow = dy.shape[1:3]
    for i in range(kh):
        for j in range(kw):
            dx[:, i:i + oh, j:j + ow, :] += np.einsum("nhwf,cf->nhwc", dy, w[i, j])
    return dx, dw


def pool_forward(x):
    """2x2 max pooling, stride 2, 'valid' (a trailing odd row/column is dropped)."""
    n, h, w, c = x.shape
    oh, ow = h // 2, w // 2
    win = x[:, :oh * 2, :ow * 2, :].reshape(n, oh, 2, ow, 2, c).transpose(0, 1, 3, 5, 2, 4).reshape(n, oh, ow, c, 4)
    arg = np.argmax(win, axis=-1)  # first maximum, as TensorFlow routes the gradient
    return np.take_along_axis(win, arg[..., None], -1)[..., 0], arg


def pool_backward(dy, arg, shape):
    n, h, w, c = shape
    oh, ow = dy.shape[1:3]
    win = np.zeros((n, oh, ow, c, 4))
    np.put_along_axis(win, arg[..., None], dy[..., None], -1)
    dx = np.zeros(shape)
    dx[:, :oh * 2, :ow * 2, :] = win.reshape(n, oh, ow, c, 2, 2).transpose(0, 1, 4, 2, 5, 3).reshape(n, oh * 2, ow * 2, c)
    return dx


def loss_and_grads(p, x, y):
    names = ["conv2d", "conv2d_1", "conv2d_2"]
    cache = []
    a = x
    for i, name in enumerate(names):
        z, patches = conv_forward(a, p[name + "/kernel"])
        z = z + p[name + "/bias"]
        r = np.maximum(z, 0)
        entry = {"in": a, "patches": patches, "z": z}
        if i < 2:
            out, arg = pool_forward(r)
            entry.update(pool_arg=arg, pool_shape=r.shape)
            a = out
        else:
            a = r
        cache.append(entry)
    n = x.shape[0]
    flat = a.reshape(n, -1)
    h = flat @ p["dense/kernel"] + p["dense/bias"]
    hr = np.maximum(h, 0)
    logits = hr @ p["dense_1/kernel"] + p["dense_1/bias"]
    shifted = logits - logits.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -logp[np.arange(n), y].mean()

    g = {}
    dlogits = np.exp(logp)
    dlogits[np.arange(n), y] -= 1
    dlogits /= n
    g["dense_1/kernel"] = hr.T @ dlogits
    g["dense_1/bias"] = dlogits.sum(0)
    dh = (dlogits @ p["dense_1/kernel"].T) * (h > 0)
    g["dense/kernel"] = flat.T @ dh
    g["dense/bias"] = dh.sum(0)
    da = (dh @ p["dense/kernel"].T).reshape(a.shape)
    for i in reversed(range(3)):
        e, name = cache[i], names[i]
        dr = pool_backward(da, e["pool_arg"], e["pool_shape"]) if i < 2 else da
        dz = dr * (e["z"] > 0)
        g[name + "/bias"] = dz.sum((0, 1, 2))
        da, g[name + "/kernel"] = conv_backward(dz, e["in"], p[name + "/kernel"], e["patches"])
    return loss, g


class Adam:  # keras/src/optimizers/adam.py
    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
        self.lr, self.b1, self.b2, self.eps = learning_rate, beta_1, beta_2, epsilon
        self.m, self.v, self.iterations = {}, {}, 0

    def apply(self, p, g):
        t = self.iterations + 1
        alpha = self.lr * np.sqrt(1 - self.b2 ** t) / (1 - self.b1 ** t)
        for k in p:
            m = self.m.setdefault(k, np.zeros_like(p[k]))
            v = self.v.setdefault(k, np.zeros_like(p[k]))
            m += (g[k] - m) * (1 - self.b1)
            v += (g[k] ** 2 - v) * (1 - self.b2)
            p[k] -= (m * alpha) / (np.sqrt(v) + self.eps)
        self.iterations += 1


class SGD:  # keras/src/optimizers/sgd.py
    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False):
        self.lr, self.momentum, self.nesterov = learning_rate, momentum, nesterov
        self.m = {}

    def apply(self, p, g):
        for k in p:
            if self.momentum == 0:
                p[k] -= g[k] * self.lr
                continue
            m = self.m.setdefault(k, np.zeros_like(p[k]))
            m[...] = -g[k] * self.lr + m * self.momentum
            p[k] += (-g[k] * self.lr + m * self.momentum) if self.nesterov else m


class AdamW(Adam):  # keras/src/optimizers/adamw.py: Adam with decoupled weight decay
    def __init__(self, learning_rate=0.001, weight_decay=0.004, **kw):
        super().__init__(learning_rate=learning_rate, **kw)
        self.wd = weight_decay

    def apply(self, p, g):
        for k in p:  # Optimizer._apply_weight_decay, before the step
            p[k] -= p[k] * self.wd * self.lr
        super().apply(p, g)


class RMSprop:  # keras/src/optimizers/rmsprop.py
    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False):
        self.lr, self.rho, self.momentum, self.eps, self.centered = learning_rate, rho, momentum, epsilon, centered
        self.vel, self.mom, self.avg = {}, {}, {}

    def apply(self, p, g):
        for k in p:
            vel = self.vel.setdefault(k, np.zeros_like(p[k]))
            vel[...] = self.rho * vel + (1 - self.rho) * g[k] ** 2
            if self.centered:
                avg = self.avg.setdefault(k, np.zeros_like(p[k]))
                avg[...] = self.rho * avg + (1 - self.rho) * g[k]
                denominator = vel - avg ** 2 + self.eps
            else:
                denominator = vel + self.eps
            increment = self.lr * g[k] / np.sqrt(denominator)
            if self.momentum > 0:
                mom = self.mom.setdefault(k, np.zeros_like(p[k]))
                mom[...] = self.momentum * mom + increment
                p[k] -= mom
            else:
                p[k] -= increment


def main():
    d, opt_name = sys.argv[1], sys.argv[2]
    kwargs = {}
    for kv in sys.argv[3:]:
        k, v = kv.split("=")
        kwargs[k] = v == "true" if v in ("true", "false") else float(v)
    opt = {"adam": Adam, "adamw": AdamW, "sgd": SGD, "rmsprop": RMSprop}[opt_name](**kwargs)
    names, shapes = [], []
    batch = steps = 0
    with open(os.path.join(d, "manifest.txt")) as f:
        for line in f:
            parts = line.split()
            if parts[0] == "param":
                names.append(parts[1])
                shapes.append(tuple(int(s) for s in parts[2].split(",")))
            elif parts[0] == "batch":
                batch = int(parts[1])
            elif parts[0] == "steps":
                steps = int(parts[1])
            elif parts[0] == "batches":
                batches = int(parts[1])
    p = {n: np.fromfile(os.path.join(d, f"param_{i}.bin"), "<f4").astype(np.float64).reshape(s)
         for i, (n, s) in enumerate(zip(names, shapes))}
    data = [(np.fromfile(os.path.join(d, f"x_{k}.bin"), "<f4").astype(np.float64).reshape(batch, 28, 28, 1),
             np.fromfile(os.path.join(d, f"y_{k}.bin"), "<i4")) for k in range(batches)]
    losses = []
    for s in range(steps):
        x, y = data[s % batches]
        loss, g = loss_and_grads(p, x, y)
        losses.append(loss)
        opt.apply(p, g)
    for i, n in enumerate(names):
        p[n].astype("<f4").tofile(os.path.join(d, f"final_{i}.bin"))
    with open(os.path.join(d, "losses.txt"), "w") as f:
        f.write("\n".join(repr(l) for l in losses) + "\n")


if __name__ == "__main__":
    main()
