"""The seed models in pure jax.numpy (no flax, no optax): forward pass, Keras
losses and metrics, and Keras's Adam / SGD written out. Used by the JAX/XLA
and the IREE systems (IREE compiles the StableHLO that JAX lowers to)."""
import jax
import jax.numpy as jnp
from jax import lax

from .models import EXAMPLES, walk


def forward(name, params, x):
    """Pre-activation of the last layer (logits) for every model."""
    layers = list(walk(name))
    for i, (kind, lname, _, _, extra) in enumerate(layers):
        last = i == len(layers) - 1
        if kind == "conv":
            x = lax.conv_general_dilated(x, params[lname + "/kernel"], (1, 1), "VALID",
                                         dimension_numbers=("NHWC", "HWIO", "NHWC"))
            x = x + params[lname + "/bias"]
        elif kind == "pool":
            x = lax.reduce_window(x, -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
        elif kind == "flatten":
            x = x.reshape(x.shape[0], -1)
        else:
            x = x @ params[lname + "/kernel"] + params[lname + "/bias"]
        if kind in ("conv", "dense") and not last and extra["act"] == "relu":
            x = jax.nn.relu(x)
    return x


def activate(name, z):
    act = EXAMPLES[name]["layers"][-1][2]
    if act == "softmax":
        return jax.nn.softmax(z, axis=-1)
    if act == "sigmoid":
        return jax.nn.sigmoid(z)
    return z


def loss_and_metric(name, z, y):
    loss = EXAMPLES[name]["loss"]
    if loss.startswith("sparse_categorical"):
        lp = jax.nn.log_softmax(z, axis=-1)
        l = -jnp.mean(jnp.take_along_axis(lp, y[:, None], axis=1))
        acc = jnp.mean((jnp.argmax(z, -1) == y).astype(jnp.float32))
    elif loss == "categorical_crossentropy":
        l = -jnp.mean(jnp.sum(y * jax.nn.log_softmax(z, axis=-1), axis=-1))
        acc = jnp.mean((jnp.argmax(z, -1) == jnp.argmax(y, -1)).astype(jnp.float32))
    elif loss == "binary_crossentropy":
        l = jnp.mean(jax.nn.softplus(z) - y * z)
        acc = jnp.mean(((z > 0) == (y > 0.5)).astype(jnp.float32))
    else:
        l = jnp.mean((z - y) ** 2)
        acc = jnp.float32(0)
    return l, acc


def init_state(name, params):
    if EXAMPLES[name]["optimizer"] == "adam":
        # distinct buffers for m and v: both are donated to the step
        return {"t": jnp.zeros((), jnp.float32), "m": {k: jnp.zeros_like(v) for k, v in params.items()},
                "v": {k: jnp.zeros_like(v) for k, v in params.items()}}
    return {"t": jnp.zeros((), jnp.float32)}


def make_train_step(name):
    spec = EXAMPLES[name]
    lr = spec["lr"]

    def lossf(params, x, y):
        z = forward(name, params, x)
        return loss_and_metric(name, z, y)

    def step(params, state, x, y):
        (l, acc), g = jax.value_and_grad(lossf, has_aux=True)(params, x, y)
        t = state["t"] + 1
        if spec["optimizer"] == "adam":
            b1, b2, eps = 0.9, 0.999, 1e-7
            m = {k: b1 * state["m"][k] + (1 - b1) * g[k] for k in params}
            v = {k: b2 * state["v"][k] + (1 - b2) * g[k] * g[k] for k in params}
            alpha = lr * jnp.sqrt(1 - b2 ** t) / (1 - b1 ** t)   # Keras's Adam
            params = {k: params[k] - alpha * m[k] / (jnp.sqrt(v[k]) + eps) for k in params}
            state = {"t": t, "m": m, "v": v}
        else:
            params = {k: params[k] - lr * g[k] for k in params}
            state = {"t": t}
        return params, state, l, acc

    return step


def make_predict(name):
    def predict(params, x):
        return activate(name, forward(name, params, x))
    return predict
