"""Material constants and models: the one source of truth for analysis and the twin.

- :mod:`.bandgap` — size-dependent first excitonic transition energy E(d), fitted from data tables.
- :mod:`.optical_constants` — bulk n, k tables and the bulk absorption coefficient.
- :mod:`.absorption` — intrinsic absorption coefficient μ_i with the solvent's local-field factor.
- :mod:`.solvents` — solvent refractive indices.

Built-in materials: InP (default) and CdSe. A third material is added by data alone (TOML + CSV tables).
"""

from flowqd.materials._material import Material, available_materials, get_material, load_material
from flowqd.materials.absorption import intrinsic_absorption_coefficient_cm
from flowqd.materials.bandgap import BANDGAP_FORMS, SizingCurve, fit_bandgap
from flowqd.materials.optical_constants import OpticalConstants
from flowqd.materials.solvents import SOLVENT_REFRACTIVE_INDEX, solvent_refractive_index

__all__ = [
    "BANDGAP_FORMS",
    "SOLVENT_REFRACTIVE_INDEX",
    "Material",
    "OpticalConstants",
    "SizingCurve",
    "available_materials",
    "fit_bandgap",
    "get_material",
    "intrinsic_absorption_coefficient_cm",
    "load_material",
    "solvent_refractive_index",
]
