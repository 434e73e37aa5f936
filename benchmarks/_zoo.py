"""The keras.applications model zoo, built without downloads: each family flat (classes=k) or nested as a backbone.

Shared by the conformance tests (``tests/test_model_zoo.py``) and ``benchmarks/bench_zoo.py``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Family", "FAMILIES", "SUBSET", "build", "sample_images"]


@dataclass(frozen=True)
class Family:
    """One keras.applications constructor and what it needs.

    ``min_size`` is the smallest square input it accepts; ``value_range`` is the range of the
    images it expects: ``(0, 255)`` for families whose preprocessing is inside the model
    (EfficientNet, EfficientNetV2, ConvNeXt, MobileNetV3), else the range of their ``preprocess_input``.
    """

    name: str
    min_size: int
    value_range: tuple[float, float]


_TF = (-1.0, 1.0)  # preprocess_input mode "tf"
_CAFFE = (-123.68, 151.061)  # mode "caffe": BGR minus the ImageNet means
_TORCH = (-2.118, 2.64)  # mode "torch": standardised by the ImageNet means and spreads
_RAW = (0.0, 255.0)  # preprocessing inside the model

FAMILIES = [
    Family("ResNet50", 32, _CAFFE), Family("ResNet101", 32, _CAFFE), Family("ResNet152", 32, _CAFFE),
    Family("ResNet50V2", 32, _TF), Family("ResNet101V2", 32, _TF), Family("ResNet152V2", 32, _TF),
    Family("VGG16", 32, _CAFFE), Family("VGG19", 32, _CAFFE),
    Family("InceptionV3", 75, _TF), Family("InceptionResNetV2", 75, _TF), Family("Xception", 71, _TF),
    Family("MobileNet", 32, _TF), Family("MobileNetV2", 32, _TF),
    Family("MobileNetV3Small", 32, _RAW), Family("MobileNetV3Large", 32, _RAW),
    Family("DenseNet121", 32, _TORCH), Family("DenseNet169", 32, _TORCH), Family("DenseNet201", 32, _TORCH),
    Family("NASNetMobile", 32, _TF),
    *[Family(f"EfficientNetB{i}", 32, _RAW) for i in range(8)],
    *[Family(f"EfficientNetV2{v}", 32, _RAW) for v in ("B0", "B1", "B2", "B3", "S")],
    Family("ConvNeXtTiny", 32, _RAW), Family("ConvNeXtSmall", 32, _RAW),
]
# RegNet, which tf.keras 2 had, is not in Keras 3's keras.applications (3.15 checked).
_BY_NAME = {family.name: family for family in FAMILIES}

#: One member of each architecture idea, for the default (CI) test run: depthwise + squeeze-excite +
#: swish with preprocessing inside (EfficientNetB0, the issue's failing case), hard-swish (MobileNetV3),
#: LayerNorm + GELU + layer scale (ConvNeXt), residual bottlenecks (ResNet50V2), concatenation (DenseNet).
SUBSET = ["EfficientNetB0", "MobileNetV3Small", "ConvNeXtTiny", "ResNet50V2", "DenseNet121"]


def build(name: str, shape: str = "flat", size: int | None = None, classes: int = 5, seed: int = 0):
    """Build family ``name`` with ``weights=None`` and seed ``seed``.

    ``shape="flat"``: the application itself with ``classes`` outputs (softmax). ``shape="nested"``:
    the transfer-learning pattern, the backbone (``include_top=False``) as one layer of a Functional
    model followed by global average pooling and a Dense softmax head.
    """
    import keras

    family = _BY_NAME[name]
    size = size or max(family.min_size, 32)
    keras.utils.set_random_seed(seed)
    constructor = getattr(keras.applications, name)
    if shape == "flat":
        return constructor(weights=None, classes=classes, input_shape=(size, size, 3))
    if shape != "nested":
        raise ValueError(f"shape must be 'flat' or 'nested'; got {shape!r}")
    backbone = constructor(weights=None, include_top=False, input_shape=(size, size, 3))
    inputs = keras.Input((size, size, 3))
    features = keras.layers.GlobalAveragePooling2D(name="pool")(backbone(inputs))
    outputs = keras.layers.Dense(classes, activation="softmax", name="head")(features)
    return keras.Model(inputs, outputs, name=f"{name.lower()}_nested")


def sample_images(name: str, count: int, size: int | None = None, seed: int = 0) -> np.ndarray:
    """``count`` smooth random images in the range family ``name`` expects, float32."""
    family = _BY_NAME[name]
    size = size or max(family.min_size, 32)
    rng = np.random.default_rng(seed)
    coarse = rng.random((count, 8, 8, 3))
    smooth = np.repeat(np.repeat(coarse, -(-size // 8), axis=1), -(-size // 8), axis=2)[:, :size, :size]
    low, high = family.value_range
    return (low + (high - low) * smooth).astype(np.float32)
