"""Import TensorFlow without its native start-up noise.

TensorFlow's C++ layer prints CUDA-plugin registration errors and a cuInit failure on every
machine without a GPU, straight to file descriptor 2, before Python logging exists. Users of the
CLI should see their results, not that. Set FACECHECK_DEBUG=1 to see everything.
"""

from __future__ import annotations

import contextlib
import os


@contextlib.contextmanager
def _native_stderr_silenced():
    if os.environ.get("FACECHECK_DEBUG"):
        yield
        return
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def import_tensorflow():
    """Import TensorFlow and probe devices quietly; returns the module (errors still raise)."""
    with _native_stderr_silenced():
        # Here, not at the top: the point is to start TensorFlow only inside the silenced block.
        import tensorflow as tf

        tf.config.list_physical_devices("GPU")
    return tf
