"""FaceCheck: spot GAN-generated faces. Shared code for training, evaluation, the CLI and server."""

import os

# TensorFlow's C++ start-up chatter (CUDA probing on machines without a GPU) is not for users.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
