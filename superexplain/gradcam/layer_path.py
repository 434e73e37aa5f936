"""What every explained layer answers the same way, functional or subclassed: the layer at the end of its path, tokens or map."""
from __future__ import annotations

from typing import Any

__all__ = ["LayerPath"]


class LayerPath:
    """Shared by :class:`~.layers.ResolvedLayer` and :class:`~.subclassed.SubclassedLayer`: both hold ``path``
    (the chain of layers down to the explained one) and ``output_shape`` (batch first)."""

    path: list
    output_shape: tuple

    @property
    def layer(self) -> Any:
        """The explained layer itself (the last element of ``path``)."""
        return self.path[-1]

    @property
    def is_tokens(self) -> bool:
        """Whether the layer outputs tokens (N, tokens, c) rather than a spatial map."""
        return len(self.output_shape) == 3
