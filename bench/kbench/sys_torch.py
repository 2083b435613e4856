"""PyTorch: eager (torch_eager), torch.compile (torch_compile, inductor) and,
for predict, torch.jit.optimize_for_inference (torch_jit, oneDNN). NCHW
tensors (PyTorch's native layout; inputs are converted once, outside the timed
loop); Keras's weights are transposed into PyTorch's layouts, and the rows of
the first Dense kernel after a Flatten are permuted from Keras's (h, w, c)
order to PyTorch's (c, h, w) order, so the models compute the same function."""
import os

import numpy as np

from .common import Skip
from .models import EXAMPLES, walk


def torch_weights(name, weights):
    """Keras-named, Keras-layout arrays -> {layer: (weight, bias)} in PyTorch layout."""
    out = {}
    prev_shape = None
    for kind, lname, ins, outs, extra in walk(name):
        if kind == "conv":
            k = weights[lname + "/kernel"].transpose(3, 2, 0, 1)
            out[lname] = (np.ascontiguousarray(k), weights[lname + "/bias"])
        elif kind == "dense":
            k = weights[lname + "/kernel"]  # [in, out]
            if prev_shape is not None and len(prev_shape) == 3:
                h, w, c = prev_shape
                k = k.reshape(h, w, c, -1).transpose(2, 0, 1, 3).reshape(h * w * c, -1)
            out[lname] = (np.ascontiguousarray(k.T), weights[lname + "/bias"])
        prev_shape = ins if kind == "flatten" else None
    return out


class Torch:
    def __init__(self, system, cfg):
        try:
            import torch
        except Exception as e:
            raise Skip("torch does not import: %s" % e)
        self.torch, self.system, self.cfg = torch, system, cfg
        self.threads = cfg["threads"]
        torch.set_num_threads(self.threads)
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:
            pass
        self.version = "torch " + torch.__version__
        self.notes = ["%d thread%s (torch.set_num_threads)" % (self.threads, "" if self.threads == 1 else "s"),
                      "GLIBC_TUNABLES=%s" % os.environ.get("GLIBC_TUNABLES", "(unset)")]
        self.name = cfg["example"]
        spec = EXAMPLES[self.name]
        if system == "torch_compile":
            self.notes.append("torch.compile(model + loss, dynamic=False), inductor; fused Adam step eager")
        if system == "torch_jit":
            self.notes.append("predict only: torch.jit.trace + torch.jit.optimize_for_inference (oneDNN)")
        self.image = len(spec["input"]) == 3
        self.device = torch.device(cfg.get("device", "cpu"))
        if self.device.type == "cuda":
            if not torch.cuda.is_available():
                raise Skip("torch sees no CUDA device")
            if system == "torch_jit":
                raise Skip("torch_jit is PyTorch's CPU predict path (oneDNN)")
            self.notes = ["GPU %s; every timed step ends with torch.cuda.synchronize()" % torch.cuda.get_device_name(),
                          "TF32: matmul %s, cuDNN %s" % (torch.backends.cuda.matmul.allow_tf32,
                                                        torch.backends.cudnn.allow_tf32)]

    def build(self, weights):
        torch, nn = self.torch, self.torch.nn
        layers = []
        tw = torch_weights(self.name, weights)
        walked = list(walk(self.name))
        for i, (kind, lname, ins, outs, extra) in enumerate(walked):
            last = i == len(walked) - 1
            if kind == "conv":
                m = nn.Conv2d(extra["kernel"][2], extra["kernel"][3], 3)
            elif kind == "pool":
                m = nn.MaxPool2d(2)
            elif kind == "flatten":
                m = nn.Flatten()
            else:
                m = nn.Linear(*extra["kernel"])
            if kind in ("conv", "dense"):
                w, b = tw[lname]
                with torch.no_grad():
                    m.weight.copy_(torch.from_numpy(w))
                    m.bias.copy_(torch.from_numpy(b))
            layers.append(m)
            if kind in ("conv", "dense") and not last and extra["act"] == "relu":
                layers.append(nn.ReLU())
        self.model = nn.Sequential(*layers).to(self.device)
        self.initial = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        self.loss_fn = self._loss()
        self.step_core = self._core()
        if self.system == "torch_compile":
            self.step_core = torch.compile(self.step_core, dynamic=False)
        self._make_opt()
        if self.system != "torch_jit":
            self.notes.append("optimizer: torch.optim." + self.opt_kind)

    def _make_opt(self):
        torch = self.torch
        spec = EXAMPLES[self.name]
        params = list(self.model.parameters())
        if spec["optimizer"] == "adam":
            try:
                self.opt = torch.optim.Adam(params, lr=spec["lr"], betas=(0.9, 0.999), eps=1e-7, fused=True)
                self.opt_kind = "Adam(fused=True)"
            except Exception:
                self.opt = torch.optim.Adam(params, lr=spec["lr"], betas=(0.9, 0.999), eps=1e-7)
                self.opt_kind = "Adam(foreach)"
        else:
            self.opt = torch.optim.SGD(params, lr=spec["lr"])
            self.opt_kind = "SGD"

    def _loss(self):
        F = self.torch.nn.functional
        torch = self.torch
        loss = EXAMPLES[self.name]["loss"]
        if loss.startswith("sparse_categorical"):
            def f(z, y):
                return F.cross_entropy(z, y), (z.argmax(1) == y).float().mean()
        elif loss == "categorical_crossentropy":
            def f(z, y):
                return F.cross_entropy(z, y), (z.argmax(1) == y.argmax(1)).float().mean()
        elif loss == "binary_crossentropy":
            def f(z, y):
                return F.binary_cross_entropy_with_logits(z, y), ((z > 0) == (y > 0.5)).float().mean()
        else:
            def f(z, y):
                return F.mse_loss(z, y), torch.zeros(())
        return f

    def _core(self):
        model, lf = self.model, self.loss_fn

        def core(x, y):
            return lf(model(x), y)
        return core

    def reset(self):
        self.model.load_state_dict(self.initial)
        if hasattr(self, "opt"):
            self._make_opt()

    def tx(self, x):
        t = self.torch.from_numpy(np.ascontiguousarray(x))
        if self.image:
            t = t.permute(0, 3, 1, 2).contiguous()
        return t.to(self.device)

    def ty(self, y):
        t = self.torch.from_numpy(np.ascontiguousarray(y))
        return (t.long() if t.dtype == self.torch.int32 else t).to(self.device)

    def sync(self):
        if self.device.type == "cuda":
            self.torch.cuda.synchronize()

    def train_fn(self, x, y):
        if self.system == "torch_jit":
            raise Skip("predict only")
        torch = self.torch
        xt, yt = self.tx(x), self.ty(y)
        self.model.train()
        last = {}

        def step():
            self.opt.zero_grad(set_to_none=True)
            loss, acc = self.step_core(xt, yt)
            loss.backward()
            self.opt.step()
            last["loss"] = loss
            self.sync()
        return step, lambda: float(last["loss"].detach())

    def predict_fn(self, x):
        torch = self.torch
        if self.system == "torch_compile":
            raise Skip("not measured: compiling predict too would double torch.compile's share of the "
                       "run; torch_jit (optimize_for_inference) is PyTorch's fastest CPU predict")
        act = EXAMPLES[self.name]["layers"][-1][2]
        model = self.model.eval()

        def full(x):
            z = model(x)
            if act == "softmax":
                z = torch.softmax(z, -1)
            elif act == "sigmoid":
                z = torch.sigmoid(z)
            return z
        xt = self.tx(x)
        out = {}
        if self.system == "torch_jit":
            class P(torch.nn.Module):
                def __init__(s):
                    super().__init__()
                    s.m = model

                def forward(s, x):
                    return full(x)
            with torch.no_grad():
                traced = torch.jit.trace(P().eval(), xt)
                fn = torch.jit.optimize_for_inference(traced)
                for _ in range(3):  # the profiling executor specialises after a few runs
                    fn(xt)
        else:
            fn = full

        def run():
            with torch.no_grad():
                out["y"] = fn(xt)
            self.sync()
        if self.system == "torch_eager" and self.cfg.get("onnx_dir") and self.device.type == "cpu":
            self._export_onnx(full, xt)
        return run, lambda: out["y"].cpu().numpy()

    def _export_onnx(self, full, xt):
        """Writes the predict model for ONNX Runtime (static batch)."""
        torch = self.torch
        path = os.path.join(self.cfg["onnx_dir"], "%s_b%d.onnx" % (self.name, xt.shape[0]))

        class P(torch.nn.Module):
            def __init__(s, m):
                super().__init__()
                s.m = m

            def forward(s, x):
                return full(x)
        p = P(self.model).eval()
        errors = []
        for kw in ({"dynamo": False}, {}):
            try:
                with torch.no_grad():
                    torch.onnx.export(p, (xt,), path, input_names=["input"], output_names=["output"],
                                      opset_version=17, **kw)
                self.notes.append("ONNX export: torch.onnx.export(%s)" % (kw or "default"))
                return
            except Exception as e:
                errors.append(" ".join(str(e).split())[:200])
        with open(path + ".failed", "w") as f:
            f.write("; ".join(errors))

    # The epoch: a plain loop, shuffled indices, batches gathered per step.
    def prepare_epoch(self, x, y, batch):
        if self.system == "torch_jit":
            raise Skip("predict only")
        self.ex, self.ey = self.tx(x), self.ty(y)

    def epoch(self, x, y, batch, seed, warmup=False):
        torch = self.torch
        X, Y = (self.tx(x), self.ty(y)) if warmup else (self.ex, self.ey)
        n = X.shape[0]
        g = torch.Generator().manual_seed(seed)
        perm = torch.randperm(n, generator=g).to(self.device)
        self.model.train()
        for i in range(0, n - batch + 1, batch):
            idx = perm[i:i + batch]
            xb, yb = X.index_select(0, idx), Y.index_select(0, idx)
            self.opt.zero_grad(set_to_none=True)
            loss, acc = self.step_core(xb, yb)
            loss.backward()
            self.opt.step()
        self.sync()

    def accuracy(self, x, y):
        torch = self.torch
        self.model.eval()
        with torch.no_grad():
            z = self.model(self.tx(x))
        return float((z.argmax(1).cpu().numpy() == y).mean())


def make(system, cfg):
    t = Torch(system, cfg)
    return t
