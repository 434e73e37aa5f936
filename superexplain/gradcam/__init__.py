"""The gradient room: class activation maps (Grad-CAM, Grad-CAM++, LayerCAM, Score-CAM) and pixel-gradient
attributions (saliency, gradient x input, integrated gradients, SmoothGrad, VarGrad, guided backpropagation).

One module per method family: :mod:`.cams` (Grad-CAM, Grad-CAM++, LayerCAM), :mod:`.scorecam`,
:mod:`.explainer` (the :class:`GradCAM` class), :mod:`.saliency` (saliency, gradient x input),
:mod:`.integrated_gradients`, :mod:`.smoothgrad` (SmoothGrad, VarGrad) and :mod:`.guided_backprop`.
They share :mod:`.layers` and :mod:`.tokens` (which layer, as a grid), :mod:`.cam_common`,
:mod:`.cam_graph` and :mod:`.cam_maps` (the CAMs' options, compiled graph and map arithmetic), and
:mod:`.attribution_engine` and :mod:`.input_gradients` (the attributions' driver and compiled gradients).
"""
from .explainer import GradCAM
from .layers import resolve_layer

__all__ = ["GradCAM", "resolve_layer"]
