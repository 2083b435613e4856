"""Kiln through its C runtime API (ctypes): the same Python-side protocol as
the peers. Inputs are bound once by pointer (kiln_session_bind_input, no
copy); a timed step is one kiln_session_run call (~1 us of ctypes overhead)."""
import numpy as np

from . import kiln_rt
from .common import Skip


class Kiln:
    notes = ["KILN_NUM_THREADS threads: GEMMs, convolutions and large generated loops on the model's pool",
             "timed through ctypes: one kiln_session_run per step; epoch: kiln_fit"]

    def __init__(self, cfg):
        self.cfg = cfg
        self.rt = kiln_rt.Runtime(cfg.get("kiln_lib"))
        self.version = cfg.get("kiln_version", "kilnc 0.1")
        self.models = []

    def build(self, weights):
        self.weights = weights
        self.device = self.cfg.get("device", "cpu")
        for path in self.cfg["kbins"]:
            m = kiln_rt.Model(self.rt, path)
            if self.device != "cpu":
                m.set_device(self.device)
            self.models.append(m)
        if self.device != "cpu":
            self.notes = ["GPU: parameters resident on the device, one CUDA graph per step; a timed step is "
                          "kiln_session_run + reading the loss (waits for the GPU)"]
        self.reset()

    def reset(self):
        for m in self.models:
            for k, v in self.weights.items():
                m.set_param(k, v)
            m.reset_state()

    def find(self, kind, batch):
        for m in self.models:
            for name, e in m.entries().items():
                if (name == kind or name.startswith(kind + "_b")) and e["batch_size"] == batch:
                    return m, name
        raise Skip("no %s entry point for batch %d was compiled" % (kind, batch))

    def predict_fn(self, x):
        m, name = self.find("predict", x.shape[0])
        s = m.session(name)
        s.bind(s.info["inputs"][0]["name"], x)
        out = s.info["outputs"][0]["name"]
        return self._step(s, out), lambda: s.output(out)

    def train_fn(self, x, y):
        m, name = self.find("train_step", x.shape[0])
        s = m.session(name)
        ins = s.info["inputs"]
        s.bind(ins[0]["name"], x)
        lab = next(i for i in ins if i["name"] == "labels")
        s.bind("labels", y.astype(np.int32 if lab["dtype"] == kiln_rt.KILN_I32 else np.float32).reshape(lab["shape"]))
        return self._step(s, "loss"), lambda: s.output("loss")

    def _step(self, s, out):
        """The timed step: one run; on a GPU, where runs are asynchronous, also
        reading output `out` (which waits for the GPU)."""
        if self.device == "cpu":
            return s.run

        def step():
            s.run()
            s.output(out)
        return step

    def prepare_epoch(self, x, y, batch):
        self.fit_model, _ = self.find("train_step", batch)

    def epoch(self, x, y, batch, seed, warmup=False):
        self.fit_model.fit(x, y, epochs=1, batch_size=batch, seed=seed, shuffle=1)

    def accuracy(self, x, y):
        m = self.fit_model.evaluate(x, y, batch_size=self.cfg["epoch"]["batch"])
        return next(v for k, v in m.items() if "accuracy" in k)


def make(system, cfg):
    return Kiln(cfg)
