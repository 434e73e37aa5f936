"""The gradient room: class activation maps (Grad-CAM, Grad-CAM++, LayerCAM, Score-CAM) and pixel-gradient
attributions (saliency, gradient x input, integrated gradients, SmoothGrad, VarGrad, guided backpropagation).

One module per method family: :mod:`.cams` (Grad-CAM, Grad-CAM++, LayerCAM), :mod:`.scorecam`,
:mod:`.explainer` (the :class:`GradCAM` class), :mod:`.saliency` (saliency, gradient x input),
:mod:`.integrated_gradients`, :mod:`.smoothgrad` (SmoothGrad, VarGrad) and :mod:`.guided_backprop`.
They share :mod:`.layers` and :mod:`.tokens` (which layer, as a grid), :mod:`.cam_common`,
:mod:`.cam_graph` and :mod:`.cam_maps` (the CAMs' options, compiled graph and map arithmetic), and
:mod:`.attribution_engine` and :mod:`.input_gradients` (the attributions' driver and compiled gradients).
:mod:`.multi_layer` computes a CAM at many layers in one pass and :mod:`.layer_candidates` lists the
layers worth comparing, for the layer advisor (:func:`rank_layers`, in :mod:`superexplain.advisor`);
:mod:`.class_maps` finds class-map layers. :mod:`.subclassed` and :mod:`.subclassed_capture` find and
capture a layer of a subclassed model.
"""
from .explainer import GradCAM
from .layers import resolve_layer

__all__ = ["GradCAM", "resolve_layer", "rank_layers", "LayerRanking"]


def __getattr__(name: str):
    # The layer advisor scores maps with the metrics, a room below this one (superexplain.advisor);
    # its names are offered here, where CAM users look for them, and imported on first use.
    if name in ("rank_layers", "LayerRanking"):
        from .. import advisor

        return getattr(advisor, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
