"""The :class:`Spectrum` record passed between readers, preprocessing and analysis.

A spectrum is validated once, when it is made: equal-length finite arrays, at least a handful of points,
wavelength in nm strictly increasing. Readers sort nothing silently — a decreasing or duplicated wavelength axis is
an error that names the file, because it usually means a wrong column or a concatenated export.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Literal

import numpy as np

from flowqd.errors import SpectrumError
from flowqd.units import HC_EV_NM

__all__ = ["SPECTRUM_KINDS", "Spectrum", "SpectrumKind"]

SpectrumKind = Literal["absorbance", "intensity", "transmittance"]
SPECTRUM_KINDS: tuple[str, ...] = ("absorbance", "intensity", "transmittance")
MIN_POINTS = 8


@dataclass(frozen=True)
class Spectrum:
    """One spectrum on a wavelength axis.

    Parameters
    ----------
    wavelength_nm : ndarray, shape (N,)
        Vacuum wavelengths in nm, strictly increasing.
    values : ndarray, shape (N,)
        Absorbance (decadic, path as recorded), intensity (counts or power, see ``metadata['quantity']``),
        or transmittance.
    kind : {"absorbance", "intensity", "transmittance"}
        What ``values`` holds.
    source : str
        Where it came from (file name), used in error messages.
    metadata : Mapping
        Free-form header information (integration time, instrument, ``quantity`` = ``"photon"``/``"power"``).

    Examples
    --------
    >>> s = Spectrum([400.0, 500.0, 600.0, 700.0, 800.0, 900.0, 1000.0, 1100.0], [1, 2, 3, 4, 5, 6, 7, 8])
    >>> s.n_points, s.kind
    (8, 'absorbance')
    """

    wavelength_nm: np.ndarray
    values: np.ndarray
    kind: SpectrumKind = "absorbance"
    source: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        wl = np.asarray(self.wavelength_nm, dtype=float)
        y = np.asarray(self.values, dtype=float)
        src = self.source or None
        if self.kind not in SPECTRUM_KINDS:
            raise SpectrumError(f"unknown spectrum kind {self.kind!r}", source=src)
        if wl.ndim != 1 or y.ndim != 1 or wl.shape != y.shape:
            raise SpectrumError(
                f"wavelength and values must be 1-D of equal length (got {wl.shape} and {y.shape})", source=src
            )
        if wl.size < MIN_POINTS:
            raise SpectrumError(f"only {wl.size} data points (need at least {MIN_POINTS})", source=src)
        bad = ~np.isfinite(wl) | ~np.isfinite(y)
        if np.any(bad):
            i = int(np.argmax(bad))
            raise SpectrumError(f"NaN or infinite value at row {i + 1} (wavelength {wl[i]:g})", source=src)
        d = np.diff(wl)
        if np.any(d == 0):
            i = int(np.argmax(d == 0))
            raise SpectrumError(f"duplicate wavelength {wl[i]:g} nm at row {i + 2}", source=src)
        if np.any(d < 0):
            i = int(np.argmax(d < 0))
            raise SpectrumError(
                f"wavelength decreases at row {i + 2} ({wl[i]:g} -> {wl[i + 1]:g} nm); "
                "the axis must be strictly increasing",
                source=src,
            )
        if wl[0] <= 0:
            raise SpectrumError("wavelengths must be positive", source=src)
        object.__setattr__(self, "wavelength_nm", wl)
        object.__setattr__(self, "values", y)
        object.__setattr__(self, "metadata", MappingProxyType(dict(self.metadata)))

    @property
    def n_points(self) -> int:
        """Number of samples."""
        return int(self.wavelength_nm.size)

    @property
    def energy_ev(self) -> np.ndarray:
        """Photon energy of each sample, eV (descending, since wavelength ascends)."""
        return HC_EV_NM / self.wavelength_nm

    def with_values(self, values: np.ndarray, **changes: Any) -> Spectrum:
        """Copy with new values (and optionally other fields changed)."""
        return replace(self, values=np.asarray(values, dtype=float), **changes)

    def window(self, min_nm: float, max_nm: float) -> Spectrum:
        """Copy restricted to ``min_nm <= wavelength <= max_nm``."""
        keep = (self.wavelength_nm >= min_nm) & (self.wavelength_nm <= max_nm)
        return replace(self, wavelength_nm=self.wavelength_nm[keep], values=self.values[keep])
