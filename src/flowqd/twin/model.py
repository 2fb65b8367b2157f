"""The digital twin: conditions → hydraulics, outlet PSD, absorbance (and PL for shells) with uncertainty bands.

``Twin.default().predict(Conditions(200, 0.1))`` runs the calibrated model (``twin/data/parameters-v3.json``):

1. reactor (``flowqd.reactor``): residence time, pressure drop, Re, De, the particle RTD of HB1;
2. kinetics (``flowqd.kinetics``): batched PBE along the heat-up history, RTD-weighted outlet (segregated flow,
   :mod:`flowqd.twin.core`);
3. optics: the outlet absorbance from :func:`flowqd.analysis.psd.forward_absorbance` (one optics model for the
   analysis and the twin) at the predicted semiconductor volume fraction divided by ``dilution``; the exciton
   peak is located on that spectrum with :func:`flowqd.analysis.exciton.find_exciton`;
4. shell (optional): :mod:`flowqd.kinetics.shell` — thickness from the Zn balance, shifted 1S transitions (the
   spectrum uses InP classes of equal 1S energy), ensemble PL and PLQY;
5. uncertainty: parameter files v3 carry posterior samples of the kinetic parameters; the model runs on every
   sample (extra rows of the same batched solve) and reports 90 % posterior predictive intervals (5-95 %
   quantiles, the calibration's measurement noise added) as ``*_interval`` and mean ∓ 1 sd as ``*_band``.  v2
   files (covariance only) keep the linearised propagation (finite-difference sensitivities).

Conditions at one HB1 set point share one batch trajectory, so a batch over flows/units costs little more than
one condition (``predict_batch``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from flowqd.errors import ConfigError, RangeError
from flowqd.kinetics.pbe import INP_MOLAR_VOLUME_M3_MOL, KineticParameters, current_parameter_name
from flowqd.kinetics.shell import ShellParameters
from flowqd.reactor.conditions import Conditions
from flowqd.twin.core import CoreOutlet, NumericsOptions, core_outlet

__all__ = ["BatchPrediction", "Prediction", "Twin", "TwinParameters", "theta_to_kinetics"]

_INP_MOLAR_MASS = 145.79
#: The packaged calibration ``Twin.default()`` loads (``parameters-v1.json`` stays in the package for provenance).
DEFAULT_PARAMETER_FILE = "parameters-v3.json"
#: Wavelength grid of predicted absorbance spectra (the paper's spectrometer covers 400-900 nm).
DEFAULT_WAVELENGTH_NM = np.arange(400.0, 900.0 + 0.5, 1.0)
SCALAR_FIELDS = ("residence_time_min", "pressure_drop_bar", "reynolds", "dean", "peak_wavelength_nm", "x13_nm",
                 "sigma_nm", "rsd", "conversion", "production_mg_h", "pl_peak_nm", "pl_fwhm_nm", "plqy",
                 "shell_thickness_nm")
BAND_FIELDS = ("x13_nm", "peak_wavelength_nm", "rsd", "conversion")
#: Quantities with a 90 % posterior predictive interval (``*_interval``; v3 parameter files).
INTERVAL_FIELDS = ("peak_wavelength_nm", "x13_nm", "rsd", "conversion", "production_mg_h")
_NAN2 = (float("nan"), float("nan"))


def theta_to_kinetics(theta: npt.ArrayLike, names: Sequence[str], transforms: Sequence[str],
                      base: KineticParameters) -> KineticParameters:
    """Kinetic parameters from fit coordinates (``log`` = log10 of the SI value, ``kJ`` = value/1000, ``lin``)."""
    changes: dict[str, Any] = {}
    for value, name, kind in zip(np.asarray(theta, dtype=float), names, transforms, strict=True):
        changes[name] = 10.0**value if kind == "log" else (value * 1e3 if kind == "kJ" else float(value))
    return base.replace(**changes)


@dataclass(frozen=True)
class TwinParameters:
    """Everything the twin needs besides the conditions (loaded from the versioned parameter file)."""

    kinetics: KineticParameters
    shell: ShellParameters
    feed_in_mol_m3: float = 87.7
    zinc_mol_m3: float = 439.0
    numerics: NumericsOptions = field(default_factory=NumericsOptions)
    fit_names: tuple[str, ...] = ()
    fit_transforms: tuple[str, ...] = ()
    theta: np.ndarray | None = None
    covariance: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    #: Posterior samples of ``theta`` (n_samples, n_fit) in the fit's transformed units (v3 files).
    posterior: np.ndarray | None = None
    #: Measurement noise sd per quantity used by the calibration likelihood (added to predictive intervals).
    noise: dict[str, float] = field(default_factory=dict)

    def sample_kinetics(self) -> list[KineticParameters]:
        """One :class:`KineticParameters` per posterior sample (empty without a posterior)."""
        if self.posterior is None:
            return []
        return [theta_to_kinetics(th, self.fit_names, self.fit_transforms, self.kinetics) for th in self.posterior]

    @classmethod
    def load(cls, path: str | Path | None = None) -> TwinParameters:
        """Read a parameter file (default: the packaged ``parameters-v3.json``; v1 and v2 files still load)."""
        if path is None:
            text = (resources.files("flowqd.twin") / "data" / DEFAULT_PARAMETER_FILE).read_text()
            src = DEFAULT_PARAMETER_FILE
        else:
            try:
                text = Path(path).read_text()
            except FileNotFoundError as exc:
                raise ConfigError("parameter file not found", source=str(path)) from exc
            src = str(path)
        try:
            data = json.loads(text)
            kin = KineticParameters.from_dict(data["kinetics"])
            shell = ShellParameters(**data.get("shell", {}))
            fit = data.get("fit", {})
            num = NumericsOptions(**data.get("numerics", {}))
            cov = np.asarray(fit["covariance"], dtype=float) if "covariance" in fit else None
            theta = np.asarray(fit["theta"], dtype=float) if "theta" in fit else None
            post = fit.get("posterior", {})
            samples = np.asarray(post["samples"], dtype=float) if "samples" in post else None
            names = tuple(current_parameter_name(str(n)) for n in fit.get("parameters", ()))
            if samples is not None and (samples.ndim != 2 or samples.shape[1] != len(names)):
                raise TypeError(f"posterior samples must be (n, {len(names)})")
            noise = {str(k): float(v) for k, v in post.get("noise", {}).items()}
        except (KeyError, TypeError, ValueError, json.JSONDecodeError) as exc:
            raise ConfigError(f"not a twin parameter file ({exc})", source=src) from None
        return cls(kin, shell, float(data.get("feed_in_mol_m3", 87.7)), float(data.get("zinc_mol_m3", 439.0)),
                   num, names, tuple(fit.get("transforms", ())), theta, cov,
                   {k: data[k] for k in ("version", "flowqd_version", "date", "source") if k in data},
                   samples, noise)


@dataclass(frozen=True)
class Prediction:
    """Twin output for one condition (scalar names are the stable CLI JSON keys).

    Shell-only fields (``pl_peak_nm``, ``pl_fwhm_nm``, ``plqy``, ``shell_thickness_nm``) are NaN for cores.
    Bands are ``(low, high)`` = value ∓ 1 σ (posterior samples, or the covariance of a v2 file); intervals are the
    90 % posterior predictive intervals of v3 files (NaN when not computed, e.g. ``bands=False``).
    """

    conditions: Conditions
    residence_time_min: float
    pressure_drop_bar: float
    reynolds: float
    dean: float
    peak_wavelength_nm: float
    x13_nm: float
    sigma_nm: float
    rsd: float
    conversion: float
    production_mg_h: float
    pl_peak_nm: float
    pl_fwhm_nm: float
    plqy: float
    shell_thickness_nm: float
    psd_diameter_nm: np.ndarray
    psd_q3: np.ndarray
    absorbance_wavelength_nm: np.ndarray
    absorbance: np.ndarray
    pl_wavelength_nm: np.ndarray
    pl_intensity: np.ndarray
    x13_nm_band: tuple[float, float] = _NAN2
    peak_wavelength_nm_band: tuple[float, float] = _NAN2
    rsd_band: tuple[float, float] = _NAN2
    conversion_band: tuple[float, float] = _NAN2
    peak_wavelength_nm_interval: tuple[float, float] = _NAN2
    x13_nm_interval: tuple[float, float] = _NAN2
    rsd_interval: tuple[float, float] = _NAN2
    conversion_interval: tuple[float, float] = _NAN2
    production_mg_h_interval: tuple[float, float] = _NAN2

    def to_dict(self, *, arrays: bool = False) -> dict[str, Any]:
        """JSON-ready dict: conditions, scalar fields, bands (and arrays when ``arrays``)."""
        out: dict[str, Any] = {"conditions": self.conditions.to_dict()}
        for name in SCALAR_FIELDS:
            v = float(getattr(self, name))
            out[name] = v if np.isfinite(v) else None
        for key in [f"{n}_band" for n in BAND_FIELDS] + [f"{n}_interval" for n in INTERVAL_FIELDS]:
            out[key] = [float(x) if np.isfinite(x) else None for x in getattr(self, key)]
        if arrays:
            for name in ("psd_diameter_nm", "psd_q3", "absorbance_wavelength_nm", "absorbance",
                         "pl_wavelength_nm", "pl_intensity"):
                out[name] = np.asarray(getattr(self, name)).tolist()
        return out


@dataclass(frozen=True)
class BatchPrediction:
    """Twin output for many conditions: every scalar field as an array over conditions, arrays stacked.

    Each name of :data:`SCALAR_FIELDS` is a property (``pred.x13_nm`` is ``pred.scalars["x13_nm"]``).
    """

    conditions: tuple[Conditions, ...]
    scalars: dict[str, np.ndarray]
    bands: dict[str, np.ndarray]
    psd_diameter_nm: np.ndarray
    psd_q3: np.ndarray
    absorbance_wavelength_nm: np.ndarray
    absorbance: np.ndarray
    pl_wavelength_nm: np.ndarray
    pl_intensity: np.ndarray
    #: 90 % posterior predictive intervals, ``(n, 2)`` per :data:`INTERVAL_FIELDS` name (NaN when not computed).
    intervals: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.conditions)

    @property
    def residence_time_min(self) -> np.ndarray:
        """Residence time in the core section, min."""
        return self.scalars["residence_time_min"]

    @property
    def pressure_drop_bar(self) -> np.ndarray:
        """Pressure drop over the reactor, bar."""
        return self.scalars["pressure_drop_bar"]

    @property
    def reynolds(self) -> np.ndarray:
        """Reynolds number of the core flow."""
        return self.scalars["reynolds"]

    @property
    def dean(self) -> np.ndarray:
        """Dean number of the core flow."""
        return self.scalars["dean"]

    @property
    def peak_wavelength_nm(self) -> np.ndarray:
        """First-exciton absorbance peak, nm."""
        return self.scalars["peak_wavelength_nm"]

    @property
    def x13_nm(self) -> np.ndarray:
        """Mean diameter x1,3 of the volume-weighted PSD, nm."""
        return self.scalars["x13_nm"]

    @property
    def sigma_nm(self) -> np.ndarray:
        """Standard deviation of the PSD, nm."""
        return self.scalars["sigma_nm"]

    @property
    def rsd(self) -> np.ndarray:
        """Relative standard deviation of the PSD (fraction)."""
        return self.scalars["rsd"]

    @property
    def conversion(self) -> np.ndarray:
        """In conversion into dots (fraction)."""
        return self.scalars["conversion"]

    @property
    def production_mg_h(self) -> np.ndarray:
        """InP production rate, mg/h."""
        return self.scalars["production_mg_h"]

    @property
    def pl_peak_nm(self) -> np.ndarray:
        """PL peak of the InP/ZnS shell product, nm (NaN for cores)."""
        return self.scalars["pl_peak_nm"]

    @property
    def pl_fwhm_nm(self) -> np.ndarray:
        """PL FWHM of the shell product, nm (NaN for cores)."""
        return self.scalars["pl_fwhm_nm"]

    @property
    def plqy(self) -> np.ndarray:
        """PL quantum yield of the shell product (fraction; NaN for cores)."""
        return self.scalars["plqy"]

    @property
    def shell_thickness_nm(self) -> np.ndarray:
        """ZnS shell thickness, nm (NaN for cores)."""
        return self.scalars["shell_thickness_nm"]

    def __getitem__(self, i: int) -> Prediction:
        def scalar(name: str) -> float:
            return float(self.scalars[name][i])

        def pair(table: dict[str, np.ndarray], name: str) -> tuple[float, float]:
            v = table.get(name)
            return _NAN2 if v is None else (float(v[i, 0]), float(v[i, 1]))

        return Prediction(
            self.conditions[i], residence_time_min=scalar("residence_time_min"),
            pressure_drop_bar=scalar("pressure_drop_bar"), reynolds=scalar("reynolds"), dean=scalar("dean"),
            peak_wavelength_nm=scalar("peak_wavelength_nm"), x13_nm=scalar("x13_nm"), sigma_nm=scalar("sigma_nm"),
            rsd=scalar("rsd"), conversion=scalar("conversion"), production_mg_h=scalar("production_mg_h"),
            pl_peak_nm=scalar("pl_peak_nm"), pl_fwhm_nm=scalar("pl_fwhm_nm"), plqy=scalar("plqy"),
            shell_thickness_nm=scalar("shell_thickness_nm"),
            psd_diameter_nm=self.psd_diameter_nm, psd_q3=self.psd_q3[i],
            absorbance_wavelength_nm=self.absorbance_wavelength_nm, absorbance=self.absorbance[i],
            pl_wavelength_nm=self.pl_wavelength_nm, pl_intensity=self.pl_intensity[i],
            x13_nm_band=pair(self.bands, "x13_nm"), peak_wavelength_nm_band=pair(self.bands, "peak_wavelength_nm"),
            rsd_band=pair(self.bands, "rsd"), conversion_band=pair(self.bands, "conversion"),
            peak_wavelength_nm_interval=pair(self.intervals, "peak_wavelength_nm"),
            x13_nm_interval=pair(self.intervals, "x13_nm"), rsd_interval=pair(self.intervals, "rsd"),
            conversion_interval=pair(self.intervals, "conversion"),
            production_mg_h_interval=pair(self.intervals, "production_mg_h"))

    def to_records(self) -> list[dict[str, Any]]:
        """One JSON-ready dict per condition (scalars and bands)."""
        return [self[i].to_dict() for i in range(len(self))]


def _as_conditions(items: Sequence[Conditions] | Any) -> list[Conditions]:
    if isinstance(items, Conditions):
        return [items]
    if isinstance(items, dict):
        t = np.atleast_1d(np.asarray(items["core_temperature_c"], dtype=float))
        q = np.atleast_1d(np.asarray(items["core_flow_ml_min"], dtype=float))
        t, q = np.broadcast_arrays(t, q)
        extra = {k: v for k, v in items.items() if k not in ("core_temperature_c", "core_flow_ml_min")}
        return [Conditions(float(a), float(b), **extra) for a, b in zip(t.ravel(), q.ravel(), strict=True)]
    out = list(items)
    for c in out:
        if not isinstance(c, Conditions):
            raise ConfigError(f"expected Conditions, got {type(c).__name__}")
    if not out:
        raise RangeError("no conditions given")
    return out


class Twin:
    """The calibrated digital twin of the Wang & Segets flow platform.

    Parameters
    ----------
    parameters : TwinParameters
        Calibrated parameters (``Twin.default()`` loads the packaged file).
    material : str
        Core material for the optics (the sizing curve and the PSD kernel).
    dilution : float
        Dilution of the outlet before the 1 mm absorbance measurement (the paper washed and redispersed its
        dots; the default gives a first-exciton absorbance of order 0.1-1).
    """

    def __init__(self, parameters: TwinParameters, *, material: str = "InP", dilution: float = 20.0) -> None:
        if not dilution >= 1.0:
            raise RangeError(f"dilution must be ≥ 1, got {dilution!r}")
        self.parameters = parameters
        self.material = material
        self.dilution = float(dilution)

    @classmethod
    def default(cls, **kwargs: Any) -> Twin:
        """The twin with the packaged calibrated parameters (``twin/data/parameters-v3.json``)."""
        return cls(TwinParameters.load(), **kwargs)

    # ----------------------------------------------------------------------------------------------------------
    def predict(self, conditions: Conditions, *, wavelength_nm: npt.ArrayLike | None = None,
                bands: bool = True, baseline: tuple[float, float] | None = None) -> Prediction:
        """Predict one condition (with uncertainty bands by default)."""
        return self.predict_batch([conditions], wavelength_nm=wavelength_nm, bands=bands, baseline=baseline)[0]

    def predict_batch(self, conditions: Sequence[Conditions] | dict[str, Any], *, backend: str = "auto",
                      wavelength_nm: npt.ArrayLike | None = None, bands: bool = False,
                      baseline: tuple[float, float] | None = None) -> BatchPrediction:
        """Predict many conditions in one batched solve.

        ``conditions`` is a list of :class:`Conditions` or a dict of arrays (``core_temperature_c``,
        ``core_flow_ml_min`` broadcast together, other fields scalars).  ``backend="auto"`` uses JAX for large
        batches (≥ 64 distinct set points) and numpy otherwise (no compile latency).  ``baseline = (offset,
        slope_per_nm)`` adds a small sloped baseline ``offset + slope·(λ − 900 nm)`` to the absorbance.
        """
        from flowqd._backend import resolve_backend

        conds = _as_conditions(conditions)
        prm = self.parameters
        wl = DEFAULT_WAVELENGTH_NM if wavelength_nm is None else np.asarray(wavelength_nm, dtype=float)
        n_uniq = np.unique([c.core_temperature_c for c in conds]).size
        if backend == "auto":
            backend = "jax" if resolve_backend("auto") == "jax" and n_uniq >= 64 else "numpy"
        sets: list[KineticParameters] = [prm.kinetics]
        steps: np.ndarray | None = None
        n_post = 0
        if bands and prm.posterior is not None:
            posterior = prm.sample_kinetics()
            sets, n_post = [prm.kinetics, *posterior], len(posterior)
        elif bands and prm.covariance is not None and prm.theta is not None:
            sets, steps = self._perturbed_sets()
        outs = core_outlet(conds, sets if len(sets) > 1 else sets[0], feed_in_mol_m3=prm.feed_in_mol_m3,
                           numerics=prm.numerics, backend=backend)
        outs = outs if isinstance(outs, list) else [outs]
        base = outs[0]
        hyd = self._hydraulics(conds)
        optics = [self._optics(conds, o, wl, baseline) for o in outs]
        scal, absorb, pl_wl, pl_i = optics[0]
        scal.update(hyd)
        scal["x13_nm"] = base.x13_nm
        scal["sigma_nm"] = base.sigma_nm
        scal["rsd"] = base.rsd
        scal["conversion"] = base.conversion
        scal["production_mg_h"] = np.array([60.0 * c.core_flow_ml_min * prm.feed_in_mol_m3 * 1e-3 * x
                                            * _INP_MOLAR_MASS for c, x in zip(conds, base.conversion, strict=True)])
        band = {k: np.full((len(conds), 2), np.nan) for k in BAND_FIELDS}
        intervals: dict[str, np.ndarray] = {}
        if n_post:
            flows = np.array([c.core_flow_ml_min for c in conds])
            per_x = 60.0 * flows * prm.feed_in_mol_m3 * 1e-3 * _INP_MOLAR_MASS
            draws = {"x13_nm": np.stack([o.x13_nm for o in outs[1:]]), "rsd": np.stack([o.rsd for o in outs[1:]]),
                     "conversion": np.stack([o.conversion for o in outs[1:]]),
                     "peak_wavelength_nm": np.stack([op[0]["peak_wavelength_nm"] for op in optics[1:]])}
            rng = np.random.default_rng(20231)
            noisy_all = {k: v + prm.noise.get(k, 0.0) * rng.standard_normal(v.shape) for k, v in draws.items()}
            noisy_all["conversion"] = np.clip(noisy_all["conversion"], 0.0, 1.0)  # a measured yield stays in [0, 1]
            noisy_all["production_mg_h"] = noisy_all["conversion"] * per_x[None, :]  # measured through X
            draws["production_mg_h"] = draws["conversion"] * per_x[None, :]
            for k, v in draws.items():
                noisy = noisy_all[k]
                intervals[k] = np.stack([np.nanquantile(noisy, 0.05, axis=0), np.nanquantile(noisy, 0.95, axis=0)],
                                        axis=-1)
                if k in band:
                    mu, sd = np.nanmean(v, axis=0), np.nanstd(v, axis=0)
                    band[k] = np.stack([mu - sd, mu + sd], axis=-1)
        cov = prm.covariance
        if steps is not None and cov is not None:  # steps exist only with a covariance (_perturbed_sets)
            values = {"x13_nm": [o.x13_nm for o in outs], "rsd": [o.rsd for o in outs],
                      "conversion": [o.conversion for o in outs],
                      "peak_wavelength_nm": [op[0]["peak_wavelength_nm"] for op in optics]}
            for k, vals in values.items():
                v0 = vals[0]
                jac = np.stack([(vals[i + 1] - v0) / steps[i] for i in range(len(steps))], axis=-1)
                sd = np.sqrt(np.maximum(np.einsum("ci,ij,cj->c", jac, cov, jac), 0.0))
                band[k] = np.stack([v0 - sd, v0 + sd], axis=-1)
        return BatchPrediction(tuple(conds), scal, band, base.diameter_nm, base.q3, wl, absorb, pl_wl, pl_i,
                               intervals)

    def absorbance(self, conditions: Conditions, wavelength_nm: npt.ArrayLike) -> np.ndarray:
        """Predicted outlet absorbance (1 mm path, after ``dilution``) at ``wavelength_nm``."""
        return self.predict(conditions, wavelength_nm=wavelength_nm, bands=False).absorbance

    def pl(self, conditions: Conditions, wavelength_nm: npt.ArrayLike) -> np.ndarray:
        """Predicted PL (peak-normalised) at ``wavelength_nm``; zeros for bare cores (not modelled)."""
        from flowqd.kinetics.shell import pl_spectrum

        if not conditions.shell:
            return np.zeros(np.shape(np.atleast_1d(wavelength_nm)))
        pred = self.predict(conditions, bands=False)
        e_i, weight = self._pl_classes(pred)
        return pl_spectrum(np.asarray(wavelength_nm, dtype=float), e_i, weight, self.parameters.shell)

    # ----------------------------------------------------------------------------------------------------------
    def _perturbed_sets(self) -> tuple[list[KineticParameters], np.ndarray]:
        prm = self.parameters
        assert prm.theta is not None and prm.covariance is not None
        sd = np.sqrt(np.maximum(np.diag(prm.covariance), 0.0))
        steps = np.where(sd > 0, 0.1 * sd, 1e-3)
        sets = [prm.kinetics]
        for i, (name, kind) in enumerate(zip(prm.fit_names, prm.fit_transforms, strict=True)):
            sets.append(theta_to_kinetics([prm.theta[i] + steps[i]], [name], [kind], prm.kinetics))
        return sets, steps

    def _hydraulics(self, conds: list[Conditions]) -> dict[str, np.ndarray]:
        from flowqd.reactor.geometry import paper_train
        from flowqd.reactor.hydraulics import train_hydraulics

        rows = []
        for c in conds:
            train = paper_train(core_units=c.core_units, shell=c.shell, shell_units=c.shell_units,
                                inlet_line_m=c.inlet_line_m if c.inlet_line_m > 0 else None)
            temps = {"HB1": c.core_temperature_c}
            sides = None
            if c.shell:
                temps["HB2"] = c.shell_temperature_c
                sides = {"ddt": c.ddt_flow_ml_min}
            h = train_hydraulics(train, c.core_flow_ml_min, temps, sides)
            core = [s for s in h.sections if s.name in ("inlet", "HB1")]
            hb1 = h.section("HB1")
            rows.append((sum(s.residence_time_min for s in core), h.pressure_drop_bar, hb1.reynolds, hb1.dean))
        arr = np.array(rows, dtype=float)
        return {"residence_time_min": arr[:, 0], "pressure_drop_bar": arr[:, 1], "reynolds": arr[:, 2],
                "dean": arr[:, 3]}

    def _optics(self, conds: list[Conditions], out: CoreOutlet, wl: np.ndarray,
                baseline: tuple[float, float] | None) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray,
                                                              np.ndarray]:
        from flowqd.analysis.exciton import find_exciton
        from flowqd.analysis.psd import forward_absorbance
        from flowqd.analysis.spectrum import Spectrum
        from flowqd.kinetics.shell import (
            confinement_shift_ev,
            pl_spectrum,
            plqy,
            shell_thickness_nm,
            zns_deposited_mol_m3,
        )
        from flowqd.materials import get_material
        from flowqd.units import AVOGADRO, HC_EV_NM

        mat = get_material(self.material)
        prm = self.parameters
        lo, hi = mat.sizing.valid_diameter_nm
        d = out.diameter_nm
        inside = (d >= lo) & (d <= hi)
        n = len(conds)
        absorb = np.zeros((n, wl.size))
        pl_wl = np.arange(450.0, 850.0 + 0.5, 1.0)
        pl_i = np.zeros((n, pl_wl.size))
        peak = np.full(n, np.nan)
        pl_peak = np.full(n, np.nan)
        pl_fwhm = np.full(n, np.nan)
        qy = np.full(n, np.nan)
        h_shell = np.full(n, np.nan)
        vol = np.maximum(out.number_mol_m3, 0.0) * d**3  # ∝ volume per class
        for i, c in enumerate(conds):
            q = np.where(inside, vol[i], 0.0)
            if not np.any(q > 0):
                continue
            phi = out.conversion[i] * prm.feed_in_mol_m3 * INP_MOLAR_VOLUME_M3_MOL * float(
                q.sum() / vol[i].sum()) / self.dilution
            d_opt = d[inside]
            q_opt = q[inside]
            if c.shell:
                core_frac = c.core_flow_ml_min / (c.core_flow_ml_min + c.ddt_flow_ml_min)
                number = np.maximum(out.number_mol_m3[i], 0.0) * core_frac
                r = d / 2.0
                area = float(np.sum(number * AVOGADRO * 4.0 * np.pi * r**2) * 1e-18)
                tau2 = self._shell_tau(c)
                zns = zns_deposited_mol_m3(prm.zinc_mol_m3 * core_frac, c.shell_temperature_c, tau2, area,
                                           prm.shell)
                h = float(shell_thickness_nm(r, number, zns))
                h_shell[i] = h
                e_core = mat.gap_ev(d_opt)
                e_cs = e_core - confinement_shift_ev(e_core, mat.bulk_gap_ev, h, prm.shell)
                e_min, e_max = (float(x) for x in mat.gap_ev(np.array([hi, lo])))
                e_cs = np.clip(e_cs, e_min + 1e-9, e_max - 1e-9)
                d_eff = mat.diameter_nm(e_cs)
                order = np.argsort(d_eff)
                d_opt, q_opt = d_eff[order], q_opt[order] / np.maximum(np.gradient(d_eff[order]), 1e-12) * \
                    np.gradient(d[inside])
                phi *= core_frac
                spec = pl_spectrum(pl_wl, e_cs, q[inside], prm.shell)
                pl_i[i] = spec
                j = int(np.clip(np.argmax(spec), 1, spec.size - 2))
                y0, y1, y2 = spec[j - 1], spec[j], spec[j + 1]
                den = y0 - 2.0 * y1 + y2
                pl_peak[i] = float(pl_wl[j] + (0.5 * (y0 - y2) / den if den < 0 else 0.0))
                above = np.flatnonzero(spec >= 0.5)
                pl_fwhm[i] = _fwhm_nm(pl_wl, spec, above)
                qy[i] = float(plqy(h, prm.shell))
            a = forward_absorbance(d_opt, q_opt, material=mat, wavelength_nm=wl, volume_fraction=phi, path_mm=1.0)
            if baseline is not None:
                a = a + baseline[0] + baseline[1] * (wl - 900.0)
            absorb[i] = a
            try:
                peak[i] = find_exciton(Spectrum(wl, a, kind="absorbance")).wavelength_nm
            except Exception:  # no exciton (featureless): fall back to the 1S transition of x13
                peak[i] = float(HC_EV_NM / mat.gap_ev(np.clip(out.x13_nm[i], lo, hi)))
        scal = {"peak_wavelength_nm": peak, "pl_peak_nm": pl_peak, "pl_fwhm_nm": pl_fwhm, "plqy": qy,
                "shell_thickness_nm": h_shell}
        return scal, absorb, pl_wl, pl_i

    def _shell_tau(self, c: Conditions) -> float:
        from flowqd.reactor.geometry import paper_train
        from flowqd.reactor.hydraulics import residence_time_min

        # HB2's coils switched in, from the geometry (π/4·d²·L = 3.5948 mL per unit; Wang & Segets 2023, §2)
        shell_box = paper_train(shell=True, shell_units=c.shell_units).boxes[1]
        volume = float(sum(t.volume_ml for t in shell_box.tubes))
        return float(residence_time_min(volume, c.core_flow_ml_min + c.ddt_flow_ml_min))

    def _pl_classes(self, pred: Prediction) -> tuple[np.ndarray, np.ndarray]:
        from flowqd.kinetics.shell import confinement_shift_ev
        from flowqd.materials import get_material

        mat = get_material(self.material)
        lo, hi = mat.sizing.valid_diameter_nm
        d = pred.psd_diameter_nm
        inside = (d >= lo) & (d <= hi)
        e_core = mat.gap_ev(d[inside])
        e_cs = e_core - confinement_shift_ev(e_core, mat.bulk_gap_ev, pred.shell_thickness_nm, self.parameters.shell)
        return e_cs, pred.psd_q3[inside]


def _fwhm_nm(wl: np.ndarray, spec: np.ndarray, above: np.ndarray) -> float:
    """Full width at half maximum with linear interpolation of both crossings."""
    if above.size == 0:
        return float("nan")
    i0, i1 = int(above[0]), int(above[-1])
    left = wl[i0] if i0 == 0 else np.interp(0.5, [spec[i0 - 1], spec[i0]], [wl[i0 - 1], wl[i0]])
    right = wl[i1] if i1 == wl.size - 1 else np.interp(0.5, [spec[i1 + 1], spec[i1]], [wl[i1 + 1], wl[i1]])
    return float(right - left)

