"""Bulk optical constants (n, k) and the bulk absorption coefficient.

Tables ship as CSV files beside the material's TOML (columns ``wavelength_nm,n,k``, comment lines with the
citation). A material may stitch several tables by energy window: InP uses Aspnes & Studna (1983) above 1.5 eV and
the Adachi (1989) model at the band edge. Values are interpolated linearly in photon energy; asking outside the
tabulated range raises :class:`~flowqd.errors.RangeError` rather than extrapolating.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from flowqd.errors import RangeError
from flowqd.units import HC_EV_NM

__all__ = ["OpticalConstants", "read_nk_csv"]


def read_nk_csv(path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read a ``wavelength_nm,n,k`` table (``#`` comment lines allowed); returns ascending wavelength."""
    with open(path) as fh:
        lines = [ln.strip() for ln in fh if ln.strip() and not ln.lstrip().startswith("#")]
    header = [h.strip() for h in lines[0].split(",")]
    cols = {name: i for i, name in enumerate(header)}
    rows = np.array([[float(v) for v in ln.split(",")] for ln in lines[1:]], dtype=float)
    wl = rows[:, cols["wavelength_nm"]]
    order = np.argsort(wl)
    return wl[order], rows[order, cols["n"]], rows[order, cols["k"]]


@dataclass(frozen=True)
class OpticalConstants:
    """Complex refractive index n + ik of a bulk material on an ascending photon-energy grid.

    Parameters
    ----------
    energy_ev : ndarray, shape (N,)
        Ascending photon energies, eV.
    n, k : ndarray, shape (N,)
        Real and imaginary parts of the refractive index.
    citations : tuple of str
        Sources of the tables, in the order they were stitched.
    """

    energy_ev: np.ndarray
    n: np.ndarray
    k: np.ndarray
    citations: tuple[str, ...] = ()

    @classmethod
    def stitch(cls, tables: list[tuple[np.ndarray, np.ndarray, np.ndarray, float, float, str]]) -> OpticalConstants:
        """Stitch tables ``(wavelength_nm, n, k, min_energy_ev, max_energy_ev, citation)`` by energy window."""
        es, ns, ks, cites = [], [], [], []
        for wl, n, k, e_lo, e_hi, cite in tables:
            e = HC_EV_NM / wl
            keep = (e >= e_lo) & (e < e_hi) if np.isfinite(e_hi) else (e >= e_lo)
            es.append(e[keep])
            ns.append(n[keep])
            ks.append(k[keep])
            cites.append(cite)
        e = np.concatenate(es)
        order = np.argsort(e)
        e = e[order]
        if np.any(np.diff(e) <= 0):
            raise RangeError("optical-constant tables overlap in energy; set min/max_energy_ev windows")
        return cls(e, np.concatenate(ns)[order], np.concatenate(ks)[order], tuple(cites))

    @property
    def wavelength_range_nm(self) -> tuple[float, float]:
        """Tabulated wavelength range, nm."""
        return float(HC_EV_NM / self.energy_ev[-1]), float(HC_EV_NM / self.energy_ev[0])

    def _check(self, e: np.ndarray) -> None:
        lo, hi = self.energy_ev[0], self.energy_ev[-1]
        if not np.all(np.isfinite(e)) or np.any(e < lo * (1 - 1e-9)) or np.any(e > hi * (1 + 1e-9)):
            wl_lo, wl_hi = self.wavelength_range_nm
            raise RangeError(
                f"wavelength outside the tabulated optical constants ({wl_lo:.0f}-{wl_hi:.0f} nm, "
                f"{lo:.3f}-{hi:.3f} eV)"
            )

    def nk_at_energy(self, energy_ev: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Interpolated (n, k) at photon energies in eV."""
        e = np.asarray(energy_ev, dtype=float)
        self._check(e)
        return np.interp(e, self.energy_ev, self.n), np.interp(e, self.energy_ev, self.k)

    def nk(self, wavelength_nm: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Interpolated (n, k) at wavelengths in nm.

        >>> from flowqd.materials import get_material
        >>> n, k = get_material("InP").optical.nk(413.3)
        >>> round(float(n), 3), round(float(k), 3)
        (4.395, 1.247)
        """
        return self.nk_at_energy(HC_EV_NM / np.asarray(wavelength_nm, dtype=float))

    def dielectric_function(self, wavelength_nm: npt.ArrayLike) -> np.ndarray:
        """Complex relative permittivity ε = (n + ik)²."""
        n, k = self.nk(wavelength_nm)
        return (n + 1j * k) ** 2

    def absorption_coefficient_cm(self, energy_ev: npt.ArrayLike) -> np.ndarray:
        """Bulk absorption coefficient α = 4πk/λ in 1/cm at photon energies in eV.

        >>> from flowqd.materials import get_material
        >>> f"{float(get_material('InP').optical.absorption_coefficient_cm(3.0)):.3g}"
        '3.79e+05'
        """
        e = np.asarray(energy_ev, dtype=float)
        _, k = self.nk_at_energy(e)
        wavelength_cm = HC_EV_NM / e * 1e-7
        return 4.0 * np.pi * k / wavelength_cm
