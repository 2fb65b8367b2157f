"""One conversion to JSON values, shared by the store (JSON columns), the CLI (``--json``) and the HTTP server.

numpy is imported only when an array or numpy scalar turns up, so the CLI can import this at start.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from collections.abc import Mapping
from datetime import datetime
from typing import Any

__all__ = ["jsonable"]


def jsonable(obj: Any) -> Any:
    """Numpy values and arrays, dataclasses, mappings, sequences and datetimes as JSON values: NaN/inf → None,
    datetimes → ISO 8601, anything else unknown → ``str``.

    >>> import numpy as np
    >>> jsonable({"a": np.array([1.0, np.nan]), "t": datetime(2026, 1, 2, 3, 4, 5), "n": np.int64(3)})
    {'a': [1.0, None], 't': '2026-01-02T03:04:05', 'n': 3}
    """
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    np = sys.modules.get("numpy")  # a numpy object implies numpy is imported already
    if np is not None:
        if isinstance(obj, np.ndarray):
            return jsonable(np.asarray(obj).tolist())  # asarray: pyright cannot narrow a module found at run time
        if isinstance(obj, np.generic):
            obj = np.asarray(obj).item()
    if isinstance(obj, datetime):
        return obj.isoformat()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if obj is None or isinstance(obj, str | int | float | bool):
        return obj
    return str(obj)
