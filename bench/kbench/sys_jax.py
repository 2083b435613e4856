"""JAX/XLA: the model in pure jax.numpy (kbench/jaxmodel.py) with Keras's Adam
and SGD written out; jax.jit with the parameters and optimizer state donated
(updated in place by XLA)."""
import os

import numpy as np

from .common import Skip


class Jax:
    def __init__(self, system, cfg):
        try:
            import jax
            import jax.numpy as jnp
            from . import jaxmodel
        except Exception as e:
            raise Skip("jax does not import: %s" % e)
        self.jax, self.jnp, self.jm, self.cfg, self.name = jax, jnp, jaxmodel, cfg, cfg["example"]
        self.version = "jax %s (jaxlib %s)" % (jax.__version__, __import__("jaxlib").__version__)
        dev = jax.devices()[0]
        if cfg.get("device", "cpu") != "cpu" and dev.platform != "gpu":
            raise Skip("jax has no GPU backend here (devices: %s)" % jax.devices())
        self.notes = ["XLA %s (%s), %s; params and optimizer state donated" % (
            dev.platform.upper(), getattr(dev, "device_kind", ""), os.environ.get("XLA_FLAGS", ""))]

    def build(self, weights):
        jax = self.jax
        self.w0 = {k: np.asarray(v) for k, v in weights.items()}
        self.step = jax.jit(self.jm.make_train_step(self.name), donate_argnums=(0, 1))
        self.pred = jax.jit(self.jm.make_predict(self.name))
        self.reset()

    def reset(self):
        jnp = self.jnp
        self.params = {k: jnp.array(v) for k, v in self.w0.items()}
        self.state = self.jm.init_state(self.name, self.params)

    def train_fn(self, x, y):
        jax = self.jax
        xd, yd = jax.device_put(x), jax.device_put(y)
        last = {}

        def step():
            self.params, self.state, l, acc = self.step(self.params, self.state, xd, yd)
            l.block_until_ready()
            last["l"] = l
        return step, lambda: float(last["l"])

    def predict_fn(self, x):
        jax = self.jax
        xd = jax.device_put(x)
        out = {}

        def run():
            out["y"] = self.pred(self.params, xd)
            out["y"].block_until_ready()
        return run, lambda: np.asarray(out["y"])

    def prepare_epoch(self, x, y, batch):
        self.ex, self.ey = self.jax.device_put(x), self.jax.device_put(y)

    def epoch(self, x, y, batch, seed, warmup=False):
        jax, jnp = self.jax, self.jnp
        X, Y = (jax.device_put(x), jax.device_put(y)) if warmup else (self.ex, self.ey)
        n = X.shape[0]
        perm = np.random.default_rng(seed).permutation(n)
        l = None
        for i in range(0, n - batch + 1, batch):
            idx = perm[i:i + batch]
            self.params, self.state, l, acc = self.step(self.params, self.state, X[idx], Y[idx])
        l.block_until_ready()

    def accuracy(self, x, y):
        z = np.asarray(self.pred(self.params, self.jax.device_put(x)))
        return float((z.argmax(1) == y).mean())


def make(system, cfg):
    return Jax(system, cfg)
