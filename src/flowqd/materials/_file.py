"""The layout of a material's TOML file (pydantic models, unknown keys are errors).

A misspelled key — ``fit_above_peak_eV`` for ``fit_above_peak_ev`` — is an error naming the key and the allowed
ones, never a silent fall-back to a default. The values' meaning is documented where they are used: the sizing
curves in :mod:`.bandgap`, the n, k tables in :mod:`.optical_constants`, ``[psd_kernel]`` in
:class:`flowqd.analysis.psd.PSDKernel`, ``[analysis]`` in :func:`flowqd.analysis.absorbance.analyze_absorbance`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["AnalysisTable", "CurveTable", "KernelTable", "MaterialFile", "OpticalTable"]

_STRICT = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class CurveTable(BaseModel):
    """``[bandgap]`` or ``[sizing_curves.<name>]``: fitted to a ``points`` table, or published ``coefficients``."""

    model_config = _STRICT

    name: str | None = Field(default=None, min_length=1, max_length=100)
    citation: str = ""
    form: str = "hyperbolic"
    points: str | None = Field(default=None, min_length=1,
                               description="CSV of diameter_nm and energy_ev or wavelength_nm")
    fit_c: bool = False
    coefficients: tuple[float, ...] | None = Field(default=None, strict=False, min_length=1)
    valid_diameter_nm: tuple[float, float] = Field(default=(1.0, 10.0), strict=False)
    diameter_grid_nm: tuple[float, float, float] | None = Field(default=None, strict=False,
                                                                description="[min, max, step]")
    uncertainty_ev: float = Field(default=0.0, ge=0)

    @model_validator(mode="after")
    def _source(self) -> CurveTable:
        if (self.points is None) == (self.coefficients is None):
            raise ValueError("give either points (a CSV table to fit) or coefficients (a published curve)")
        return self


class OpticalTable(BaseModel):
    """``[[optical_constants]]``: an n, k table and the photon-energy window it is used in."""

    model_config = _STRICT

    file: str = Field(min_length=1)
    citation: str | None = None
    min_energy_ev: float = Field(default=0.0, ge=0)
    max_energy_ev: float | None = Field(default=None, gt=0, description="default: no upper limit")


class KernelBand(BaseModel):
    """``[[psd_kernel.bands]]``: one higher discrete transition of the kernel, a Gaussian above E_1S."""

    model_config = _STRICT

    offset_ev: float = Field(gt=0, description="centre above E_1S, eV")
    width_ev: float = Field(gt=0, description="Gaussian standard deviation, eV")
    strength: float = Field(ge=0, description="peak height relative to μ_i(E_1S), for a 3 nm dot")


class KernelTable(BaseModel):
    """``[psd_kernel]``: parameters of the PSD inversion's kernel (which are required, their defaults, ranges and
    meaning: ``PSDKernel``, which reads them)."""

    model_config = _STRICT

    exciton_width_ev: float | None = None
    exciton_strength: float | None = None
    onset_offset_ev: float | None = None
    onset_width_ev: float | None = None
    diameter_grid_nm: tuple[float, float, float] | None = Field(default=None, strict=False,
                                                                description="[min, max, step]")
    fit_above_peak_ev: float | None = None
    onset_margin_ev: float | None = None
    exciton_strength_size_exponent: float | None = None
    bands: list[KernelBand] | None = None


class AnalysisTable(BaseModel):
    """``[analysis]``: the material's defaults for the absorbance analysis."""

    model_config = _STRICT

    wavelength_star_nm: float | None = Field(default=None, gt=0, description="concentration wavelength λ*")
    exciton_search_nm: tuple[float, float] | None = Field(default=None, strict=False,
                                                          description="exciton search window")


class MaterialFile(BaseModel):
    """A material's TOML file."""

    model_config = _STRICT

    name: str = Field(min_length=1, max_length=100)
    formula: str | None = None
    bulk_gap_ev: float = Field(gt=0)
    density_g_cm3: float = Field(gt=0)
    molar_mass_g_mol: float = Field(gt=0)
    size_convention: str = ""
    bandgap: CurveTable
    sizing_curves: dict[str, CurveTable] = Field(default_factory=dict)
    optical_constants: tuple[OpticalTable, ...] = Field(default=(), strict=False)
    psd_kernel: KernelTable | None = None
    analysis: AnalysisTable = AnalysisTable()
