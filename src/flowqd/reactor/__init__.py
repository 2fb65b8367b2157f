"""The continuous-flow reactor: geometry, fluid properties, hydraulics, RTD, heat-up, recipe and train config.

- :mod:`.geometry` — :class:`Tube`, :class:`HeatingUnit`, :class:`HeatingBox`, the ordered :class:`ReactorTrain`
  (lines, heating boxes with units switched in, T-mixers) and :func:`paper_train` (Wang & Segets 2023).
- :mod:`.properties` — stock/oleylamine/DDT density and viscosity (analogue estimates), c_p, k, diffusivities
  (Wilke–Chang, Stokes–Einstein), HNEt2 vapour pressure.
- :mod:`.hydraulics` — τ, ū, Re, De, Hagen–Poiseuille ΔP with White's curvature correction, syringe and
  bubble-point margins, :func:`train_hydraulics`.
- :mod:`.rtd` — Taylor–Aris dispersion / laminar segregated RTD, washout time, mean-preserving quadrature.
- :mod:`.heatup` — fluid temperature history in a hot unit, entry length, heating power.
- :mod:`.recipe` — stock and shell-feed concentrations, production rates, syringe schedule; :class:`Recipe` TOML.
- :mod:`.config` — :class:`TrainConfig` TOML model and :func:`load_train`.
- :mod:`.conditions` — :class:`Conditions`, the one set-point type (temperatures, flows, units in use) with its
  limits; used by the twin, the devices, the platform and the server.
- :mod:`.process` — :class:`ProcessModel`: a train's residence time, RTD washout and pressure drop per set point
  (for the simulated plant, the run engine and the pre-flight).

This package imports only :mod:`flowqd.errors`, :mod:`flowqd.units` and :mod:`flowqd.materials`.
"""

from flowqd.reactor.conditions import Conditions
from flowqd.reactor.config import HeatingBoxConfig, TrainConfig, load_train, train_from_mapping
from flowqd.reactor.geometry import (
    PAPER_COIL_DIAMETER_MM,
    PAPER_INNER_DIAMETER_MM,
    PAPER_UNIT_LENGTH_M,
    PUMP_RANGE_ML_MIN,
    BoxStage,
    HeatingBox,
    HeatingUnit,
    Line,
    MixingPoint,
    ReactorTrain,
    Segment,
    Tube,
    check_flow_ml_min,
    paper_train,
)
from flowqd.reactor.heatup import (
    heating_power_w,
    heating_time_constant_s,
    radial_conduction_time_s,
    temperature_history,
    thermal_entry_length_m,
    time_to_approach_s,
)
from flowqd.reactor.hydraulics import (
    SYRINGE_PRESSURE_LIMIT_BAR,
    SectionHydraulics,
    TrainHydraulics,
    bubble_point_margin_bar,
    check_pressure_bar,
    dean,
    hagen_poiseuille_pressure_drop_bar,
    mean_velocity_m_s,
    mixture_properties,
    pressure_drop_bar,
    pressure_margin_bar,
    residence_time_min,
    reynolds,
    train_hydraulics,
    white_curvature_factor,
)
from flowqd.reactor.process import ProcessModel
from flowqd.reactor.properties import (
    DDT,
    OLEYLAMINE,
    STOCK,
    Fluid,
    hnet2_vapour_pressure_bar,
    oleylamine_density_kg_m3,
    oleylamine_viscosity_pa_s,
    stokes_einstein_diffusivity_m2_s,
    wilke_chang_diffusivity_m2_s,
)
from flowqd.reactor.recipe import (
    Component,
    Recipe,
    ShellConcentrations,
    ShellFeed,
    Stock,
    SyringeSpec,
    SyringeStep,
    in_feed_mmol_h,
    load_recipe,
    max_inp_production_mg_h,
    paper_recipe,
    paper_stock,
    shell_stream_concentrations,
    stock_consumed_ml,
    syringe_duration_min,
    syringe_schedule,
    syringe_swaps,
)
from flowqd.reactor.rtd import (
    ResidenceTimeDistribution,
    cumulative_rtd,
    dean_reduction_factor,
    dispersion_numbers,
    rtd,
    rtd_quadrature,
    section_rtd,
    taylor_aris_dispersion_m2_s,
    train_rtd,
    washout_time_min,
)

__all__ = [
    "DDT",
    "OLEYLAMINE",
    "PAPER_COIL_DIAMETER_MM",
    "PAPER_INNER_DIAMETER_MM",
    "PAPER_UNIT_LENGTH_M",
    "PUMP_RANGE_ML_MIN",
    "STOCK",
    "SYRINGE_PRESSURE_LIMIT_BAR",
    "BoxStage",
    "Component",
    "Conditions",
    "Fluid",
    "HeatingBox",
    "HeatingBoxConfig",
    "HeatingUnit",
    "Line",
    "MixingPoint",
    "ProcessModel",
    "ReactorTrain",
    "Recipe",
    "ResidenceTimeDistribution",
    "SectionHydraulics",
    "Segment",
    "ShellConcentrations",
    "ShellFeed",
    "Stock",
    "SyringeSpec",
    "SyringeStep",
    "TrainConfig",
    "TrainHydraulics",
    "Tube",
    "bubble_point_margin_bar",
    "check_flow_ml_min",
    "check_pressure_bar",
    "cumulative_rtd",
    "dean",
    "dean_reduction_factor",
    "dispersion_numbers",
    "hagen_poiseuille_pressure_drop_bar",
    "heating_power_w",
    "heating_time_constant_s",
    "hnet2_vapour_pressure_bar",
    "in_feed_mmol_h",
    "load_recipe",
    "load_train",
    "max_inp_production_mg_h",
    "mean_velocity_m_s",
    "mixture_properties",
    "oleylamine_density_kg_m3",
    "oleylamine_viscosity_pa_s",
    "paper_recipe",
    "paper_stock",
    "paper_train",
    "pressure_drop_bar",
    "pressure_margin_bar",
    "radial_conduction_time_s",
    "residence_time_min",
    "reynolds",
    "rtd",
    "rtd_quadrature",
    "section_rtd",
    "shell_stream_concentrations",
    "stock_consumed_ml",
    "stokes_einstein_diffusivity_m2_s",
    "syringe_duration_min",
    "syringe_schedule",
    "syringe_swaps",
    "taylor_aris_dispersion_m2_s",
    "temperature_history",
    "thermal_entry_length_m",
    "time_to_approach_s",
    "train_from_mapping",
    "train_hydraulics",
    "train_rtd",
    "washout_time_min",
    "white_curvature_factor",
    "wilke_chang_diffusivity_m2_s",
]
