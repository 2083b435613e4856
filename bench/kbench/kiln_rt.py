"""Kiln's C runtime API (runtime/kiln_runtime.h) through ctypes.

Only what the benchmark needs: load a .kbin, read and write parameters, make
sessions, bind inputs by pointer (no copy), run, read outputs, kiln_fit.
Pointers are passed as ctypes.c_void_p(array.ctypes.data); arrays bound with
kiln_session_bind_input must be 64-byte aligned (see aligned()).
"""
import ctypes as C
import os

import numpy as np

KILN_F32, KILN_I32 = 0, 1
_NP = {KILN_F32: np.float32, KILN_I32: np.int32}


class TensorInfo(C.Structure):
    _fields_ = [("name", C.c_char_p), ("dtype", C.c_int), ("rank", C.c_int32),
                ("shape", C.POINTER(C.c_int64)), ("num_elements", C.c_int64),
                ("byte_size", C.c_size_t)]

    def py(self):
        return {"name": self.name.decode(), "dtype": self.dtype,
                "shape": tuple(self.shape[i] for i in range(self.rank)),
                "byte_size": self.byte_size}


class ParamInfo(C.Structure):
    _fields_ = [("tensor", TensorInfo), ("trainable", C.c_int), ("is_state", C.c_int)]


class EntryInfo(C.Structure):
    _fields_ = [("name", C.c_char_p), ("batch_size", C.c_int64),
                ("num_inputs", C.c_size_t), ("inputs", C.POINTER(TensorInfo)),
                ("num_outputs", C.c_size_t), ("outputs", C.POINTER(TensorInfo)),
                ("num_params", C.c_size_t), ("param_indices", C.POINTER(C.c_uint32)),
                ("scratch_bytes", C.c_uint64), ("cpu_symbol", C.c_char_p)]


class Dataset(C.Structure):
    _fields_ = [("x", C.c_void_p), ("x_dtype", C.c_int), ("x_shape", C.POINTER(C.c_int64)),
                ("x_rank", C.c_int32), ("y", C.c_void_p), ("y_dtype", C.c_int),
                ("y_shape", C.POINTER(C.c_int64)), ("y_rank", C.c_int32)]


PROGRESS_FN = C.CFUNCTYPE(C.c_int, C.c_void_p, C.c_void_p)


class FitOptions(C.Structure):
    _fields_ = [("epochs", C.c_int64), ("batch_size", C.c_int64), ("initial_epoch", C.c_int64),
                ("shuffle", C.c_int), ("seed", C.c_uint64), ("validation_split", C.c_double),
                ("validation_data", C.c_void_p), ("monitor", C.c_char_p),
                ("patience", C.c_int64), ("min_delta", C.c_double),
                ("restore_best_weights", C.c_int), ("checkpoint_path", C.c_char_p),
                ("progress", C.c_void_p), ("user", C.c_void_p)]


class Metric(C.Structure):
    _fields_ = [("name", C.c_char_p), ("value", C.c_double)]


class KilnError(RuntimeError):
    pass


def default_library():
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.join(here, "..", "..", "build", "runtime", "libkiln_runtime.so")


class Runtime:
    def __init__(self, path=None):
        L = self.L = C.CDLL(path or default_library())
        vp, st = C.c_void_p, C.c_int
        sig = {
            "kiln_last_error": (C.c_char_p, []),
            "kiln_status_name": (C.c_char_p, [st]),
            "kiln_model_load_file": (st, [C.c_char_p, C.c_uint32, C.POINTER(vp)]),
            "kiln_model_free": (None, [vp]),
            "kiln_model_producer": (st, [vp, C.POINTER(C.c_char_p)]),
            "kiln_model_num_entries": (st, [vp, C.POINTER(C.c_size_t)]),
            "kiln_model_entry": (st, [vp, C.c_size_t, C.POINTER(C.POINTER(EntryInfo))]),
            "kiln_model_find_entry": (st, [vp, C.c_char_p, C.POINTER(C.POINTER(EntryInfo))]),
            "kiln_model_num_params": (st, [vp, C.POINTER(C.c_size_t)]),
            "kiln_model_param": (st, [vp, C.c_size_t, C.POINTER(C.POINTER(ParamInfo))]),
            "kiln_model_get_param": (st, [vp, C.c_char_p, vp, C.c_size_t]),
            "kiln_model_set_param": (st, [vp, C.c_char_p, C.c_int, vp, C.c_size_t]),
            "kiln_model_reset_state": (st, [vp]),
            "kiln_model_set_device": (st, [vp, C.c_char_p]),
            "kiln_session_create": (st, [vp, C.c_char_p, C.POINTER(vp)]),
            "kiln_session_destroy": (None, [vp]),
            "kiln_session_bind_input": (st, [vp, C.c_char_p, C.c_int, C.POINTER(C.c_int64),
                                             C.c_int32, vp, C.c_size_t]),
            "kiln_session_set_input": (st, [vp, C.c_char_p, C.c_int, C.POINTER(C.c_int64),
                                            C.c_int32, vp, C.c_size_t]),
            "kiln_session_run": (st, [vp]),
            "kiln_session_get_output": (st, [vp, C.c_char_p, vp, C.c_size_t]),
            "kiln_fit_options_init": (None, [C.POINTER(FitOptions)]),
            "kiln_fit": (st, [vp, C.POINTER(Dataset), C.POINTER(FitOptions)]),
            "kiln_evaluate": (st, [vp, C.POINTER(Dataset), C.c_int64, C.POINTER(Metric),
                                   C.c_size_t, C.POINTER(C.c_size_t)]),
        }
        for name, (res, args) in sig.items():
            f = getattr(L, name)
            f.restype, f.argtypes = res, args

    def check(self, status, what):
        if status != 0:
            raise KilnError("%s: %s: %s" % (what, self.L.kiln_status_name(status).decode(),
                                            self.L.kiln_last_error().decode()))


def aligned(shape, dtype, align=64):
    """A zeroed array whose data starts on an `align`-byte boundary."""
    dtype = np.dtype(dtype)
    n = int(np.prod(shape)) * dtype.itemsize
    raw = np.zeros(n + align, dtype=np.uint8)
    off = (-raw.ctypes.data) % align
    return raw[off:off + n].view(dtype).reshape(shape)


class Model:
    def __init__(self, rt, path):
        self.rt, self.L = rt, rt.L
        h = C.c_void_p()
        rt.check(self.L.kiln_model_load_file(path.encode(), 0, C.byref(h)), path)
        self.h = h

    def free(self):
        if self.h:
            self.L.kiln_model_free(self.h)
            self.h = None

    def producer(self):
        p = C.c_char_p()
        self.rt.check(self.L.kiln_model_producer(self.h, C.byref(p)), "producer")
        return p.value.decode()

    def entries(self):
        n = C.c_size_t()
        self.rt.check(self.L.kiln_model_num_entries(self.h, C.byref(n)), "entries")
        out = {}
        for i in range(n.value):
            e = C.POINTER(EntryInfo)()
            self.rt.check(self.L.kiln_model_entry(self.h, i, C.byref(e)), "entry")
            e = e.contents
            out[e.name.decode()] = {
                "batch_size": e.batch_size,
                "inputs": [e.inputs[j].py() for j in range(e.num_inputs)],
                "outputs": [e.outputs[j].py() for j in range(e.num_outputs)],
                "scratch_bytes": e.scratch_bytes}
        return out

    def params(self):
        """[(name, shape, dtype, trainable, is_state)] in model order."""
        n = C.c_size_t()
        self.rt.check(self.L.kiln_model_num_params(self.h, C.byref(n)), "params")
        out = []
        for i in range(n.value):
            p = C.POINTER(ParamInfo)()
            self.rt.check(self.L.kiln_model_param(self.h, i, C.byref(p)), "param")
            p = p.contents
            t = p.tensor.py()
            out.append((t["name"], t["shape"], t["dtype"], p.trainable, p.is_state))
        return out

    def get_param(self, name, shape, dtype):
        a = np.empty(shape, dtype=_NP[dtype])
        self.rt.check(self.L.kiln_model_get_param(self.h, name.encode(), C.c_void_p(a.ctypes.data),
                                                  a.nbytes), name)
        return a

    def set_param(self, name, value, dtype=KILN_F32):
        a = np.ascontiguousarray(value, dtype=_NP[dtype])
        self.rt.check(self.L.kiln_model_set_param(self.h, name.encode(), dtype,
                                                  C.c_void_p(a.ctypes.data), a.size), name)

    def reset_state(self):
        self.rt.check(self.L.kiln_model_reset_state(self.h), "reset_state")

    def set_device(self, device):
        """"cpu", "cuda", "cuda:N": parameters move there and stay (kiln_model_set_device)."""
        self.rt.check(self.L.kiln_model_set_device(self.h, device.encode()), "set_device " + device)

    def session(self, entry):
        return Session(self, entry)

    def fit(self, x, y, epochs=1, batch_size=0, seed=0, shuffle=1):
        xs = (C.c_int64 * x.ndim)(*x.shape)
        ys = (C.c_int64 * y.ndim)(*y.shape)
        ds = Dataset(C.c_void_p(x.ctypes.data), KILN_F32 if x.dtype == np.float32 else KILN_I32,
                     xs, x.ndim, C.c_void_p(y.ctypes.data),
                     KILN_F32 if y.dtype == np.float32 else KILN_I32, ys, y.ndim)
        o = FitOptions()
        self.L.kiln_fit_options_init(C.byref(o))
        o.epochs, o.batch_size, o.seed, o.shuffle = epochs, batch_size, seed, shuffle
        o.validation_split = 0.0
        self.rt.check(self.L.kiln_fit(self.h, C.byref(ds), C.byref(o)), "kiln_fit")

    def evaluate(self, x, y, batch_size=0):
        xs = (C.c_int64 * x.ndim)(*x.shape)
        ys = (C.c_int64 * y.ndim)(*y.shape)
        ds = Dataset(C.c_void_p(x.ctypes.data), KILN_F32, xs, x.ndim, C.c_void_p(y.ctypes.data),
                     KILN_F32 if y.dtype == np.float32 else KILN_I32, ys, y.ndim)
        m = (Metric * 8)()
        n = C.c_size_t()
        self.rt.check(self.L.kiln_evaluate(self.h, C.byref(ds), batch_size, m, 8, C.byref(n)),
                      "kiln_evaluate")
        return {m[i].name.decode(): m[i].value for i in range(min(n.value, 8))}


class Session:
    def __init__(self, model, entry):
        self.model, self.L, self.rt = model, model.L, model.rt
        h = C.c_void_p()
        self.rt.check(self.L.kiln_session_create(model.h, entry.encode(), C.byref(h)), entry)
        self.h = h
        self.info = model.entries()[entry]
        self._keep = {}
        self._run = self.L.kiln_session_run

    def bind(self, name, arr):
        """Binds `arr` (copied once into 64-byte aligned memory, kept alive here)."""
        a = aligned(arr.shape, arr.dtype)
        a[...] = arr
        dt = KILN_F32 if a.dtype == np.float32 else KILN_I32
        shape = (C.c_int64 * max(a.ndim, 1))(*a.shape)
        self.rt.check(self.L.kiln_session_bind_input(self.h, name.encode(), dt, shape, a.ndim,
                                                     C.c_void_p(a.ctypes.data), a.nbytes), name)
        self._keep[name] = a
        return a

    def run(self):
        s = self._run(self.h)
        if s:
            self.rt.check(s, "run")

    def output(self, name):
        t = next(o for o in self.info["outputs"] if o["name"] == name)
        a = np.empty(t["shape"], dtype=_NP[t["dtype"]])
        self.rt.check(self.L.kiln_session_get_output(self.h, name.encode(), C.c_void_p(a.ctypes.data),
                                                     a.nbytes), name)
        return a

    def destroy(self):
        if self.h:
            self.L.kiln_session_destroy(self.h)
            self.h = None
