"""Pre-flight checks: everything that can be known to fail is refused before anything moves.

:func:`preflight` checks, for every condition of a campaign on a platform:

1. set points against the devices and the reactor (:func:`~flowqd.platform.config.check_campaign`: box limits,
   controller range, pump ranges, unit counts, devices a shell condition needs);
2. the predicted pressure drop (reactor hydraulics, temperature-dependent viscosity) at the hot set points *and*
   at a cold start (coil at ambient) against ``interlocks.max_pressure_bar``;
3. the stock: each condition's duration is estimated (set-point ramp + stability hold + flush to
   ``washout_fraction`` from the particle RTD + spectra + collection) and the stock (and DDT) it needs, plus two
   syringe fillings, must fit in the reservoir;
4. the analysis: the platform's ``control.material`` must be known (built in or a readable material file) and the
   UV-vis range must reach below the material's bulk band-gap wavelength (else no exciton is ever in view) —
   otherwise every spectrum's analysis would fail while the campaign "completes".

All failures are reported together, each naming the file, key and value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from flowqd.errors import ConfigError, FlowqdError
from flowqd.materials import get_material
from flowqd.platform.config import CampaignCondition, CampaignConfig, PlatformConfig, check_campaign
from flowqd.reactor.conditions import Conditions
from flowqd.reactor.process import ProcessModel
from flowqd.reactor.recipe import stock_consumed_ml
from flowqd.units import HC_EV_NM

__all__ = ["ConditionPlan", "PreflightReport", "analysis_problems", "operating_point", "preflight"]


def operating_point(entry: CampaignCondition) -> Conditions:
    """The set point (:class:`~flowqd.reactor.conditions.Conditions`) of a campaign condition: the one it holds,
    validated against the model's limits when the campaign was read."""
    return entry.conditions


@dataclass(frozen=True)
class ConditionPlan:
    """Estimates for one condition."""

    index: int
    residence_time_min: float
    washout_min: float
    duration_min: float
    stock_ml: float
    ddt_ml: float
    pressure_bar: float
    cold_pressure_bar: float


@dataclass
class PreflightReport:
    """Result of :func:`preflight`: per-condition plans and every problem found."""

    plans: list[ConditionPlan] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not self.problems

    @property
    def duration_min(self) -> float:
        """Estimated campaign duration, min."""
        return float(sum(p.duration_min for p in self.plans))

    def raise_if_failed(self) -> None:
        """Raise one :class:`ConfigError` listing every problem."""
        if self.problems:
            n = len(self.problems)
            raise ConfigError(f"pre-flight failed ({n} problem{'s' if n > 1 else ''}); nothing was started:\n  "
                              + "\n  ".join(self.problems))


def analysis_problems(platform: PlatformConfig) -> list[str]:
    """What would make the analysis of *every* spectrum fail on ``platform`` (see item 4 of the module docstring)."""
    name = platform.control.material
    try:
        material = get_material(name)
    except FlowqdError as exc:
        return [f"{platform.source}: control.material = {name!r}: {exc}; every spectrum's analysis would fail"]
    bulk_nm = HC_EV_NM / material.bulk_gap_ev
    lo = platform.devices.uvvis.wavelength_min_nm
    if lo >= bulk_nm:
        return [f"{platform.source}: devices.uvvis.wavelength_min_nm = {lo!r}: at or above the bulk band-gap "
                f"wavelength of {material.name} ({bulk_nm:.0f} nm); no exciton of its dots can be in view"]
    return []


def preflight(campaign: CampaignConfig, platform: PlatformConfig, *, process: ProcessModel | None = None,
              skip_conditions: set[int] | None = None) -> PreflightReport:
    """Check ``campaign`` on ``platform`` before anything moves (see the module docstring).

    ``skip_conditions`` (indices already completed, on resume) are left out of the stock balance.
    """
    report = PreflightReport(problems=check_campaign(campaign, platform) + analysis_problems(platform))
    if report.problems:
        return report
    process = process or ProcessModel(platform.train())
    ctl = platform.control
    lock = platform.interlocks
    dev = platform.devices
    src = campaign.source
    skip = skip_conditions or set()
    prev_core = prev_shell = platform.sim.ambient_c
    stock_total = ddt_total = 0.0
    for i, entry in enumerate(campaign.conditions):
        c = operating_point(entry)
        try:
            tau = process.residence_time_min(c)
            wash = process.washout_time_min(c, ctl.washout_fraction)
            dp = process.pressure_drop_bar(c)
            cold = process.pressure_drop_actual_bar(
                c.core_flow_ml_min, platform.sim.ambient_c, ddt_flow_ml_min=c.ddt_flow_ml_min if c.shell else 0.0,
                shell=c.shell, shell_temperature_c=platform.sim.ambient_c, core_units=c.core_units,
                shell_units=c.shell_units)
        except FlowqdError as exc:
            report.problems.append(f"{src}: conditions[{i}]: {exc}")
            continue
        for what, p in (("at the set points", dp), ("at a cold start", cold)):
            if p >= lock.max_pressure_bar:
                report.problems.append(
                    f"{src}: conditions[{i}].core_flow_ml_min = {c.core_flow_ml_min!r}: predicted pressure drop "
                    f"{p:.2f} bar {what} reaches the limit {lock.max_pressure_bar:g} bar")
        ramp_min = abs(c.core_temperature_c - prev_core) / dev.hb1.ramp_c_min
        if c.shell and dev.hb2 is not None:
            ramp_min = max(ramp_min, abs(c.shell_temperature_c - prev_shell) / dev.hb2.ramp_c_min)
            prev_shell = c.shell_temperature_c
        prev_core = c.core_temperature_c
        flow_total = c.total_flow_ml_min
        spectra_min = (entry.n_spectra + 1) * ctl.spectrum_interval_s / 60.0
        collect_min = entry.collect_volume_ml / flow_total
        duration = ramp_min + 5.0 + ctl.temperature_hold_s / 60.0 + wash + spectra_min + collect_min
        stock = stock_consumed_ml(c.core_flow_ml_min, duration)
        ddt = stock_consumed_ml(c.ddt_flow_ml_min, duration) if c.shell else 0.0
        report.plans.append(ConditionPlan(i, tau, wash, duration, stock, ddt, dp, cold))
        if i not in skip:
            stock_total += stock
            ddt_total += ddt
    need_stock = stock_total + 2 * dev.core_pump.syringe_volume_ml
    if need_stock > dev.core_pump.reservoir_ml:
        report.problems.append(
            f"{_where(platform)}devices.core_pump.reservoir_ml = {dev.core_pump.reservoir_ml!r}: the campaign needs "
            f"about {need_stock:.1f} mL of stock ({stock_total:.1f} mL pumped over "
            f"{sum(p.duration_min for p in report.plans):.0f} min + 2 syringe fillings); "
            + _set_key(platform, "devices.core_pump.reservoir_ml", need_stock))
    if ddt_total > 0 and dev.shell_pump is not None:
        need_ddt = ddt_total + 2 * dev.shell_pump.syringe_volume_ml
        if need_ddt > dev.shell_pump.reservoir_ml:
            report.problems.append(
                f"{_where(platform)}devices.shell_pump.reservoir_ml = {dev.shell_pump.reservoir_ml!r}: the campaign "
                f"needs about {need_ddt:.1f} mL of DDT; " + _set_key(platform, "devices.shell_pump.reservoir_ml",
                                                                      need_ddt))
    return report


def _packaged(platform: PlatformConfig) -> bool:
    """The platform came with flowqd (its file lies inside the installed package: not the user's to edit)."""
    return platform.source.startswith("<flowqd>")


def _where(platform: PlatformConfig) -> str:
    return "the built-in platform: " if _packaged(platform) else f"{platform.source}: "


def _set_key(platform: PlatformConfig, key: str, need: float) -> str:
    """How to fix a reservoir shortfall: which platform-file key to set, and to what."""
    if _packaged(platform):
        return (f"fill more and say so: copy examples/platform-wang-segets-2023.toml, set {key} = "
                f"{math.ceil(need)} (or more) and pass it with --platform FILE")
    return f"fill at least {math.ceil(need)} mL and set {key} = {math.ceil(need)} in {platform.source}"
