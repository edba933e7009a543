"""Read a PyTorch state dict saved in the legacy (pre-1.6) format, with numpy only.

    state = read_legacy_state_dict(Path("efficientnet-lite0-57934424.pth").read_bytes())

The legacy format is five pickles and then the raw storages: a magic number, the protocol
version, system info, the state dict (its tensors refer to storages by persistent id), the list
of storage keys in the order their bytes follow, then for each storage an 8-byte element count
and its little-endian data. Only the classes a state dict of tensors needs are resolved; any
other global in the pickle is refused, so a crafted file cannot run code.
"""

from __future__ import annotations

import collections
import io
import pickle
import struct

import numpy as np

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
STORAGE_DTYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
                  "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
                  "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_}


class _StorageType:
    def __init__(self, name: str):
        self.dtype = np.dtype(STORAGE_DTYPES[name])


class _TensorRef:
    """A tensor whose storage's bytes come after the pickle: made real by `materialise`."""

    def __init__(self, key, offset, size, stride):
        self.key, self.offset, self.size, self.stride = key, offset, tuple(size), tuple(stride)

    def materialise(self, storages: dict) -> np.ndarray:
        flat = storages[self.key]
        if not self.size:
            return flat[self.offset:self.offset + 1].reshape(()).copy()
        strides = tuple(s * flat.itemsize for s in self.stride)
        view = np.lib.stride_tricks.as_strided(flat[self.offset:], self.size, strides)
        return np.array(view)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, *unused):
    return _TensorRef(storage, storage_offset, size, stride)


class _Unpickler(pickle.Unpickler):
    def __init__(self, file):
        super().__init__(file)
        self.storage_types: dict[str, np.dtype] = {}

    def find_class(self, module, name):
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor_v2
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a weights file")

    def persistent_load(self, pid):
        kind, storage_type, key, _location, _size = pid[:5]
        if kind != "storage":
            raise pickle.UnpicklingError(f"unknown persistent id {kind!r}")
        self.storage_types[key] = storage_type.dtype
        return key


def read_legacy_state_dict(data: bytes) -> dict[str, np.ndarray]:
    """Every tensor of the state dict as a numpy array, by its name."""
    f = io.BytesIO(data)
    if pickle.load(f) != MAGIC_NUMBER:
        raise ValueError("not a legacy PyTorch file (wrong magic number)")
    pickle.load(f)  # protocol version
    pickle.load(f)  # system info (byte order, type sizes)
    unpickler = _Unpickler(f)
    state = unpickler.load()
    keys = pickle.load(f)
    storages = {}
    for key in keys:
        dtype = unpickler.storage_types[key]
        (count,) = struct.unpack("<q", f.read(8))
        storages[key] = np.frombuffer(f.read(count * dtype.itemsize), dtype=dtype.newbyteorder("<"))
    return {name: (t.materialise(storages) if isinstance(t, _TensorRef) else t)
            for name, t in state.items()}
