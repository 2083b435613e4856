"""TensorFlow / Keras, the system the seed programs were written for: the same
Sequential model, model.compile(...) as in the programs (Keras's defaults:
jit_compile="auto"), train_on_batch / predict_on_batch for steps and
model.fit(epochs=1) for the epoch."""
import os

import numpy as np

from .common import Skip
from .models import EXAMPLES, walk


class Keras:
    def __init__(self, system, cfg):
        os.environ.setdefault("KERAS_BACKEND", "tensorflow")
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        try:
            import tensorflow as tf
            import keras
        except Exception as e:
            raise Skip("tensorflow/keras do not import: %s" % e)
        n = cfg["threads"]
        tf.config.threading.set_intra_op_parallelism_threads(n)
        tf.config.threading.set_inter_op_parallelism_threads(n)
        self.tf, self.keras, self.cfg, self.name = tf, keras, cfg, cfg["example"]
        self.version = "tensorflow %s, keras %s" % (tf.__version__, keras.__version__)
        self.notes = ["%d intra-op and %d inter-op threads" % (n, n)]

    def build(self, weights):
        keras = self.keras
        spec = EXAMPLES[self.name]
        L = keras.layers
        layers = [keras.Input(shape=spec["input"])]
        for kind, lname, ins, outs, extra in walk(self.name):
            if kind == "conv":
                layers.append(L.Conv2D(extra["kernel"][3], (3, 3), activation=extra["act"], name=lname))
            elif kind == "pool":
                layers.append(L.MaxPooling2D((2, 2), name=lname))
            elif kind == "flatten":
                layers.append(L.Flatten(name=lname))
            else:
                layers.append(L.Dense(extra["kernel"][1], activation=extra["act"], name=lname))
        self.model = keras.Sequential(layers, name=self.name)
        for layer in self.model.layers:
            if layer.weights:
                layer.set_weights([weights[layer.name + "/kernel"], weights[layer.name + "/bias"]])
        self.initial = self.model.get_weights()
        loss = spec["loss"]
        if loss == "sparse_categorical_crossentropy_logits":
            loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        if spec["optimizer"] == "adam":
            opt = keras.optimizers.Adam(learning_rate=spec["lr"])
        else:
            opt = keras.optimizers.SGD(learning_rate=spec["lr"])
        metrics = [] if spec["loss"] == "mse" else ["accuracy"]
        self.model.compile(loss=loss, optimizer=opt, metrics=metrics)
        self.opt = opt
        self.opt_initial = None

    def reset(self):
        self.model.set_weights(self.initial)
        opt = self.opt
        if opt.built:
            if self.opt_initial is None:
                # zeros and the step counter as they are before the first step
                self.opt_initial = [np.zeros(v.shape, v.dtype) if "learning_rate" not in v.path else v.numpy()
                                    for v in opt.variables]
            for v, a in zip(opt.variables, self.opt_initial):
                v.assign(a)

    def train_fn(self, x, y):
        m = self.model
        xt, yt = self.tf.constant(x), self.tf.constant(y)
        last = {}

        def step():
            last["r"] = m.train_on_batch(xt, yt)
        def loss():
            r = last["r"]
            return r[0] if isinstance(r, (list, tuple)) else r
        return step, loss

    def predict_fn(self, x):
        xt = self.tf.constant(x)
        out = {}

        def run():
            out["y"] = self.model.predict_on_batch(xt)
        return run, lambda: np.asarray(out["y"])

    def prepare_epoch(self, x, y, batch):
        pass

    def epoch(self, x, y, batch, seed, warmup=False):
        self.keras.utils.set_random_seed(seed)
        self.model.fit(x, y, batch_size=batch, epochs=1, shuffle=True, verbose=0)
        if warmup:
            self.notes.append("jit_compile resolved to %s" % getattr(self.model, "jit_compile", "?"))

    def accuracy(self, x, y):
        z = self.model.predict(x, batch_size=256, verbose=0)
        return float((z.argmax(1) == y).mean())


def make(system, cfg):
    return Keras(system, cfg)
