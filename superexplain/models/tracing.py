"""superexplain's compiled functions, and TensorFlow's retracing warning silenced for them (and only them).

TensorFlow counts traces per Python code object, not per ``tf.function``: the compiled function
built for each (model, layer) shares its code with the others, so explaining at a few layers in a
row looks to TensorFlow like one function retraced on every call, and it logs "triggered
tf.function retracing". Those graphs are built once each and cached (:mod:`superexplain.models.cache`):
the warning would only alarm. :func:`compile_function` builds every superexplain ``tf.function``
and remembers its Python function; a filter on TensorFlow's logger drops the retracing message
when it names one of them (every other message, and the warning about the user's own functions,
passes).
"""
from __future__ import annotations

import logging
import re
import weakref
from typing import Any, Callable

__all__ = ["compile_function", "OwnRetracingFilter"]

#: id -> weak reference of the Python functions superexplain compiled (alive ones only count).
_OURS: dict[int, Any] = {}
_NAMED = re.compile(r"calls to (<.*>) triggered tf\.function retracing", re.S)
_ADDRESS = re.compile(r" at 0x([0-9a-fA-F]+)>$")


def _ours(text: str) -> bool:
    if "superexplain." in text:  # a bound method: its instance's class is named with its module
        return True
    address = _ADDRESS.search(text)
    if address is None:
        return False
    reference = _OURS.get(int(address.group(1), 16))
    return reference is not None and reference() is not None


class OwnRetracingFilter(logging.Filter):
    """Drops TensorFlow's retracing warning when it names a function :func:`compile_function` compiled.

    Examples
    --------
    >>> import logging
    >>> def mine(x):
    ...     return x
    >>> _ = compile_function(mine, reduce_retracing=True)
    >>> warning = "5 out of the last 5 calls to {} triggered tf.function retracing. Tracing is expensive"
    >>> record = logging.LogRecord("tensorflow", logging.WARNING, "", 0, warning.format(mine), None, None)
    >>> OwnRetracingFilter().filter(record)
    False
    >>> def theirs(x):
    ...     return x
    >>> record.msg = warning.format(theirs)          # the user's own function: kept
    >>> OwnRetracingFilter().filter(record)
    True
    """

    def filter(self, record: logging.LogRecord) -> bool:
        named = _NAMED.search(str(record.msg))
        return named is None or not _ours(named.group(1))


_FILTER = OwnRetracingFilter()


def compile_function(function: Callable, **options: Any) -> Any:
    """``tf.function(function, **options)``, with its retracing warning silenced (see the module's notes)."""
    import tensorflow as tf

    for key in [key for key, reference in _OURS.items() if reference() is None]:
        del _OURS[key]
    _OURS[id(function)] = weakref.ref(function)
    logger = logging.getLogger("tensorflow")
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
    return tf.function(function, **options)
