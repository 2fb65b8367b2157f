"""The twin's predictions for the simulated plant: cached per set point, computed in batches.

The plant asks for the twin's spectra of every plug it blends at the flow cell. A prediction is a pure function of
the set point (:class:`~flowqd.reactor.conditions.Conditions`), so :class:`PredictionCache` keeps each one;
:meth:`PredictionCache.prefetch` computes all missing points of a campaign in *one* batched call
(``Twin.predict_batch``: conditions at one HB1 set point share one population-balance trajectory, and
``backend="auto"`` uses JAX for large batches where it pays), without the uncertainty bands the plant never reads.
A twin without ``predict_batch`` (the surrogate) is called per point.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Iterable
from typing import Any

from flowqd.reactor.conditions import Conditions

__all__ = ["PredictionCache"]


class PredictionCache:
    """Predictions of ``twin`` per set point (:class:`~flowqd.reactor.conditions.Conditions`).

    Parameters
    ----------
    twin : object
        ``predict(conditions)`` and optionally ``predict_batch(list_of_conditions, bands=...)``.

    Attributes
    ----------
    hits, misses, batches : int
        Cache statistics (``batches``: calls into the twin).
    twin_seconds : float
        Wall time spent in the twin.
    """

    def __init__(self, twin: Any) -> None:
        self.twin = twin
        self._cache: dict[Conditions, Any] = {}
        self.hits = self.misses = self.batches = 0
        self.twin_seconds = 0.0
        batch = getattr(twin, "predict_batch", None)
        self._batch: Callable[..., Any] | None = batch if callable(batch) else None
        self._batch_kwargs: dict[str, Any] = {}
        if self._batch is not None and "bands" in inspect.signature(self._batch).parameters:
            self._batch_kwargs["bands"] = False  # the plant reads spectra only

    def __len__(self) -> int:
        return len(self._cache)

    def __contains__(self, op: object) -> bool:
        return op in self._cache

    def get(self, op: Conditions) -> Any:
        """The prediction at ``op`` (computed on the first request)."""
        pred = self._cache.get(op)
        if pred is not None:
            self.hits += 1
            return pred
        self.misses += 1
        self.prefetch([op])
        return self._cache[op]

    def prefetch(self, ops: Iterable[Conditions]) -> int:
        """Compute every point of ``ops`` not cached yet in one batched call; return how many were computed."""
        todo = list(dict.fromkeys(op for op in ops if op not in self._cache))
        if not todo:
            return 0
        t0 = time.perf_counter()
        if self._batch is not None:
            batch = self._batch(todo, **self._batch_kwargs)
            preds = [batch[i] for i in range(len(todo))]
        else:
            preds = [self.twin.predict(c) for c in todo]
        self._cache.update(zip(todo, preds, strict=True))
        self.batches += 1
        self.twin_seconds += time.perf_counter() - t0
        return len(todo)
