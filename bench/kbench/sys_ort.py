"""ONNX Runtime, inference only: the predict model exported from the PyTorch
model (by the torch_eager worker, torch.onnx.export, static batch), run with
all graph optimisations and the same number of intra-op threads."""
import os

import numpy as np

from .common import Skip


class Ort:
    def __init__(self, system, cfg):
        try:
            import onnxruntime as ort
        except Exception as e:
            raise Skip("onnxruntime does not import: %s" % e)
        self.ort, self.cfg, self.name = ort, cfg, cfg["example"]
        self.version = "onnxruntime " + ort.__version__
        n = cfg["threads"]
        self.notes = ["ORT_ENABLE_ALL, intra_op_num_threads=%d, inter_op 1, sequential" % n]

    def build(self, weights):
        pass

    def reset(self):
        pass

    def train_fn(self, x, y):
        raise Skip("inference only")

    def predict_fn(self, x):
        ort = self.ort
        path = os.path.join(self.cfg["onnx_dir"], "%s_b%d.onnx" % (self.name, x.shape[0]))
        if not os.path.exists(path):
            why = open(path + ".failed").read() if os.path.exists(path + ".failed") else "torch_eager did not run"
            raise Skip("no ONNX model (exported from PyTorch): " + why[:300])
        so = ort.SessionOptions()
        so.intra_op_num_threads = self.cfg["threads"]
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        xt = np.ascontiguousarray(x.transpose(0, 3, 1, 2)) if x.ndim == 4 else x
        out = {}
        feed = {"input": xt}

        def run():
            out["y"] = sess.run(None, feed)[0]
        return run, lambda: out["y"]

    def prepare_epoch(self, *a):
        raise Skip("inference only")

    def epoch(self, *a, **k):
        raise Skip("inference only")


def make(system, cfg):
    return Ort(system, cfg)
