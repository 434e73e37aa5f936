"""A Dense layer's scores before its softmax/sigmoid, as a layer that reads the layer's own weights at every call."""
from __future__ import annotations

__all__ = ["dense_logits_class"]

_DENSE_LOGITS: list = []


def dense_logits_class():
    """A layer computing a Dense layer's scores before its activation, reading its weights at every call.

    Written into the graph as plain ops, ``layer.kernel`` would be read once, when the graph is
    built, and frozen into it: the logits would then ignore any later change of the weights
    (fine-tuning, or the randomisation sanity check re-initialising the output layer).
    """
    if not _DENSE_LOGITS:
        import keras
        from keras import ops

        class DenseLogits(keras.layers.Layer):
            def __init__(self, dense, **kwargs):
                super().__init__(dtype="float32", **kwargs)
                self.dense = dense  # the model's own layer: its variables, never a copy

            def call(self, features):
                # float32 throughout, so that a mixed-precision head gives float32 logits
                scores = ops.matmul(ops.cast(features, "float32"), ops.cast(self.dense.kernel, "float32"))
                return scores + ops.cast(self.dense.bias, "float32") if self.dense.use_bias else scores

            def compute_output_shape(self, input_shape):
                return tuple(input_shape[:-1]) + (self.dense.units,)

        _DENSE_LOGITS.append(DenseLogits)
    return _DENSE_LOGITS[0]
