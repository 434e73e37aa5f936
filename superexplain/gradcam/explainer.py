"""The `GradCAM` class: a model and a layer (or layers) resolved once, then any CAM of a layer from the registry."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._validation import check_choice, check_int
from ..explanation import Explanation
from ..registry import method_function
from .cam_common import CAM_METHODS, check_relu
from .layers import resolve_layer

if TYPE_CHECKING:
    from .layers import ResolvedLayer
    from .subclassed import SubclassedLayer

__all__ = ["GradCAM"]


class GradCAM:
    """Class activation maps for a Keras image classifier: any CAM of the registry (Grad-CAM, HiResCAM, Score-CAM...).

    Parameters
    ----------
    model : keras.Model or str
        A Functional or Sequential Keras 3 model (nested sub-models allowed), a model file, or a subclassed
        model with ``layer=`` given (see :mod:`superexplain.gradcam.subclassed`).
    layer : None, str, int, keras.layers.Layer or a list of them
        The layer whose activations are mapped; None picks the last layer with a spatial output
        that the score depends on (see :func:`superexplain.gradcam.resolve_layer`). Nested layers
        are named by path, ``"backbone/conv5_block3_out"``. A list fuses the layers' maps (see
        :func:`superexplain.gradcam.cam_options.run_with_cam_options`).
    method : str
        A CAM of a layer, one of :data:`superexplain.gradcam.cam_common.CAM_METHODS` (the registry's
        "cam" family that takes a layer): "gradcam", "gradcam++", "layercam", "hirescam",
        "gradcam_elementwise", "xgradcam", "eigencam", "eigengradcam", "scorecam", "ablationcam",
        "feature_factorization".
    score : {"logit", "probability"}, optional
        ``"logit"`` explains the pre-softmax score when the model ends in a softmax/sigmoid (as
        the original Grad-CAM); ``"probability"`` the model's output. Default: ``"logit"``, and
        ``"probability"`` for Score-CAM (whose weights are the paper's softmax probabilities).
    relu : bool
        Apply the final ReLU (True, the papers' maps); False keeps the signed map.
    class_names : list or dict, optional
        Names for the classes (default: the model's ``class_names`` attribute, if any).
    batch_size : int, optional
        Images per compiled call (Score-CAM: masked images per model call).
    output : int or str, optional
        For a model with several outputs: the one holding the class scores (see
        :func:`superexplain.models.as_predictor`).
    reshape : callable, optional
        For a layer that outputs tokens (N, tokens, c), a vision transformer's: maps them to a grid
        (N, h, w, c). Without it a square token grid, with or without one leading class token, is
        reshaped automatically (said in ``params["tokens"]``).

    Examples
    --------
    >>> from superexplain import GradCAM
    >>> from superexplain.datasets import load_demo_model, make_shapes
    >>> cam = GradCAM(load_demo_model())
    >>> explanation = cam.explain(make_shapes(1, seed=3).images[0])
    >>> explanation.params["layer"], explanation.feature_map.shape, explanation.heatmap.shape
    ('last_conv', (8, 8), (64, 64))
    """

    def __init__(self, model: Any, layer: Any = None, method: str = "gradcam", score: str | None = None,
                 relu: bool = True, class_names: Any = None, batch_size: int | None = None,
                 output: Any = None, reshape: Any = None) -> None:
        from ..models import as_predictor

        self.method = check_choice(method, "method", CAM_METHODS)
        if score is None:
            score = "probability" if self.method == "scorecam" else "logit"
        self.score = check_choice(score, "score", ("logit", "probability"))
        self.relu = check_relu(relu)
        self.batch_size = None if batch_size is None else check_int(batch_size, "batch_size", 1)
        self.predictor = as_predictor(model, class_names=class_names, output=output)
        self.predictor.score_function(score)  # plain callables are refused here, with the way out
        self.reshape = reshape
        if isinstance(layer, (list, tuple)):  # several layers, whose maps are fused
            self.layer: ResolvedLayer | SubclassedLayer | list[ResolvedLayer | SubclassedLayer] = [
                resolve_layer(self.predictor.keras_model, one, reshape) for one in layer]
        else:
            self.layer = resolve_layer(self.predictor.keras_model, layer, reshape)

    def explain(self, images: Any, targets: Any = None, top_labels: int | None = None,
                verbose: int | bool = 0, **options: Any) -> Explanation | list[Explanation]:
        """Explain one image or a batch.

        Parameters
        ----------
        images : array_like
            One image (H, W[, C]) or a batch (N, H, W, C), in the model's input space.
        targets : None, int, str or list
            None: each image's top class; an index or class name for every image; or one entry
            (an index, a name, or a list of them) per image.
        top_labels : int, optional
            Explain each image's ``top_labels`` best classes (image-major, best first).
        verbose : int or bool
            Progress bar over batches.
        **options
            Method options (Score-CAM: ``channel_softmax``).

        Returns
        -------
        Explanation or list of Explanation
            One Explanation for one image and one target, else a list, image-major.

        Examples
        --------
        >>> from superexplain import GradCAM
        >>> from superexplain.datasets import load_demo_model, make_shapes
        >>> cam = GradCAM(load_demo_model(), method="layercam")
        >>> explanations = cam.explain(make_shapes(1, seed=4).images, top_labels=2)
        >>> len(explanations), explanations[0].score >= explanations[1].score
        (2, True)
        """
        run = method_function(self.method)  # the registry's run function of this CAM
        batch, single = self.predictor.check_images(images, "images")
        explanations = run(
            self.predictor, batch, targets=targets, top_labels=top_labels, verbose=verbose,
            layer=self.layer, score=self.score,
            relu=self.relu, batch_size=self.batch_size, reshape=self.reshape, **options)
        if single and len(explanations) == 1:
            return explanations[0]
        return explanations

    def __repr__(self) -> str:
        names = [one.name for one in self.layer] if isinstance(self.layer, list) else self.layer.name
        return f"GradCAM(method={self.method!r}, layer={names!r}, score={self.score!r})"
