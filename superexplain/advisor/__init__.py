"""The layer advisor: which layer's CAM is most faithful to the model, measured with the metrics' curves.

:func:`rank_layers` scores every candidate layer's map (all from one pass, :mod:`superexplain.gradcam.multi_layer`)
with deletion or insertion curves (:mod:`superexplain.metrics`) or against an occlusion map, and returns a
:class:`LayerRanking`. It is its own room because it sits below both the gradient methods and the metrics;
``superexplain.gradcam.rank_layers`` forwards here.
"""
from .rank import rank_layers
from .ranking import LayerRanking

__all__ = ["rank_layers", "LayerRanking"]
