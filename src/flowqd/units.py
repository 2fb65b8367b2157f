"""Physical constants and unit conversions used across flowqd.

Values are CODATA 2018 (exact SI definitions where applicable).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = [
    "AVOGADRO",
    "HC_EV_NM",
    "LN10",
    "celsius_to_kelvin",
    "energy_ev_to_wavelength_nm",
    "wavelength_nm_to_energy_ev",
]

#: Planck constant times speed of light, eV·nm (h·c = 1239.841984 eV nm, CODATA 2018).
HC_EV_NM: float = 1239.841984
#: Avogadro constant, 1/mol (exact).
AVOGADRO: float = 6.02214076e23
#: Gas constant, J/(mol K).
GAS_CONSTANT: float = 8.314462618
#: Boltzmann constant, J/K (exact).
BOLTZMANN: float = 1.380649e-23
#: Natural logarithm of 10 (absorbance is log10, extinction is ln).
LN10: float = float(np.log(10.0))


def wavelength_nm_to_energy_ev(wavelength_nm: npt.ArrayLike) -> np.ndarray:
    """Photon energy in eV of a vacuum wavelength in nm.

    >>> round(float(wavelength_nm_to_energy_ev(518.0)), 4)
    2.3935
    """
    return HC_EV_NM / np.asarray(wavelength_nm, dtype=float)


def energy_ev_to_wavelength_nm(energy_ev: npt.ArrayLike) -> np.ndarray:
    """Vacuum wavelength in nm of a photon energy in eV.

    >>> round(float(energy_ev_to_wavelength_nm(2.0)), 2)
    619.92
    """
    return HC_EV_NM / np.asarray(energy_ev, dtype=float)


def celsius_to_kelvin(temperature_c: npt.ArrayLike) -> np.ndarray:
    """Kelvin from degrees Celsius.

    >>> float(celsius_to_kelvin(25.0))
    298.15
    """
    return np.asarray(temperature_c, dtype=float) + 273.15
