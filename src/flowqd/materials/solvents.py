"""Refractive indices of dispersion solvents (sodium D line, 20 °C).

The local-field factor of the intrinsic absorption coefficient depends on the solvent's refractive index n_s.
Dispersion of n_s over the visible is below 1 % for these liquids and is neglected (documented in design.md).
"""

from __future__ import annotations

from flowqd.errors import FlowqdError

__all__ = ["SOLVENT_REFRACTIVE_INDEX", "solvent_refractive_index"]

#: n_D at 20 °C. Sources: CRC Handbook of Chemistry and Physics (hexane, toluene, chloroform);
#: Sigma-Aldrich product specifications (1-octadecene n20/D 1.444; oleylamine n20/D 1.4596).
SOLVENT_REFRACTIVE_INDEX: dict[str, float] = {
    "hexane": 1.375,
    "toluene": 1.496,
    "chloroform": 1.446,
    "octadecene": 1.444,
    "oleylamine": 1.4596,
}


def solvent_refractive_index(solvent: str | float) -> float:
    """Refractive index of a named solvent, or the number itself when one is given.

    >>> solvent_refractive_index("hexane")
    1.375
    """
    if isinstance(solvent, int | float):
        if not 1.0 <= float(solvent) <= 2.5:
            raise FlowqdError(f"solvent refractive index {solvent} outside 1.0-2.5")
        return float(solvent)
    key = solvent.strip().lower()
    if key not in SOLVENT_REFRACTIVE_INDEX:
        raise FlowqdError(
            f"unknown solvent {solvent!r}; known: {', '.join(SOLVENT_REFRACTIVE_INDEX)} (or give n as a number)"
        )
    return SOLVENT_REFRACTIVE_INDEX[key]
