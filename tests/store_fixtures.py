"""A small synthetic run for examples, tests and trying the report without a platform.

:func:`populate_demo_run` writes a temperature series shaped like the paper's Fig. 3a–c (exciton peak 518 → 590 nm,
x1,3 2.7 → 3.4 nm for 180 → 250 °C at 0.1 mL/min) plus one InP/ZnS shell condition with PL (607 nm, FWHM 90 nm,
PLQY 30.9 %, as in Fig. 4), with traces and a few events including an interlock trip. The spectra are simple
Gaussian exciton bands on a UV-rising background — illustrative, not the twin's forward model.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import numpy as np

from flowqd.store.models import utcnow
from flowqd.store.store import Store

__all__ = ["demo_absorbance", "open_concurrently", "populate_demo_run"]

WAVELENGTH_NM = np.linspace(400.0, 800.0, 201)


def demo_absorbance(peak_nm: float, wavelength_nm: np.ndarray = WAVELENGTH_NM, width_nm: float = 25.0) -> np.ndarray:
    """A synthetic QD absorbance: an exciton Gaussian at ``peak_nm`` on a background rising to the UV."""
    wl = np.asarray(wavelength_nm, float)
    edge = 1.0 / (1.0 + np.exp((wl - (peak_nm - 40.0)) / 18.0))
    return 0.25 * np.exp(-0.5 * ((wl - peak_nm) / width_nm) ** 2) + 0.6 * edge + 0.01


def populate_demo_run(
    store: Store,
    *,
    temperatures_c: Sequence[float] = (180.0, 200.0, 225.0, 250.0),
    n_spectra: int = 2,
    shell: bool = True,
    trip: bool = True,
    name: str = "demo temperature series",
) -> int:
    """Write a synthetic run into ``store`` and return its id (see the module docstring)."""
    t0 = utcnow() - timedelta(hours=1)
    run_id = store.create_run(
        name, platform_toml='[platform]\nname = "paper"\n', campaign_toml='[campaign]\nseries = "temperature"\n',
        notes="synthetic demo data", started_at=t0, host="demo",
    )
    wl = WAVELENGTH_NM
    rng = np.random.default_rng(7)
    reference = 30000.0 * np.exp(-0.5 * ((wl - 600.0) / 250.0) ** 2) + 1000.0
    dark = np.full_like(wl, 1000.0)
    seq = 0
    t_s = 0.0
    previous_c = 25.0
    conditions: list[tuple[float, float, bool]] = [(t, 0.1, False) for t in temperatures_c]
    if shell:
        conditions.append((200.0, 0.06, True))
    for index, (temp, flow, is_shell) in enumerate(conditions):
        frac = (temp - 180.0) / 70.0
        peak = 518.0 + 72.0 * frac + (12.0 if is_shell else 0.0)
        x13 = 2.7 + 0.7 * frac
        rsd = 0.077 + 0.098 * frac**1.5
        cid = store.start_condition(
            run_id, index, core_temperature_c=temp, core_flow_ml_min=flow, shell=is_shell,
            shell_temperature_c=200.0 if is_shell else None, ddt_flow_ml_min=0.03 if is_shell else None,
            residence_time_s=600.0 * 0.1 / flow, n_spectra=n_spectra,
        )
        store.add_trace_points(run_id, [(t_s, "hb1.temperature_c", temp, "setpoint"),
                                        (t_s, "pump_core.flow_ml_min", flow, "setpoint")])
        for k in range(12):
            t = t_s + 10.0 * k
            store.add_trace_points(run_id, [
                (t, "hb1.temperature_c", temp - (temp - previous_c) * np.exp(-k / 3.0) + rng.normal(0, 0.3)),
                (t, "pump_core.flow_ml_min", flow + rng.normal(0, 0.001)),
                (t, "line.pressure_bar", 2.0 + 0.5 * flow + rng.normal(0, 0.02)),
            ])
        for _ in range(n_spectra):
            a = demo_absorbance(peak) + rng.normal(0, 0.002, wl.size)
            counts = dark + (reference - dark) * 10.0 ** (-a)
            sid = store.add_spectrum(run_id, seq, condition_id=cid, kind="absorbance", wavelength_nm=wl,
                                     counts=counts, dark=dark, reference=reference, processed=a,
                                     t_s=t_s + 120.0, integration_ms=20.0, averages=5)
            d = np.linspace(1.5, 5.0, 71)
            sigma = rsd * x13
            store.add_analysis(sid, "psd", {
                "peak_wavelength_nm": peak, "x13_nm": x13, "sigma_nm": sigma, "rsd": rsd,
                "yield": 0.5 + 0.2 * frac,
                "psd": {"diameter_nm": d.tolist(),
                        "q3": (np.exp(-0.5 * ((d - x13) / sigma) ** 2) / (sigma * np.sqrt(2 * np.pi))).tolist()},
            })
            seq += 1
            if is_shell:
                pl = np.exp(-0.5 * ((wl - 607.0) / (90.0 / 2.3548)) ** 2) * 5000.0
                sid = store.add_spectrum(run_id, seq, condition_id=cid, kind="pl", wavelength_nm=wl,
                                         counts=pl + dark, dark=dark, processed=pl, t_s=t_s + 125.0,
                                         integration_ms=100.0)
                store.add_analysis(sid, "pl", {"peak_wavelength_nm": 607.0, "fwhm_nm": 90.0, "plqy": 0.309,
                                               "cie_x": 0.553, "cie_y": 0.441})
                seq += 1
        store.finish_condition(cid)
        previous_c = temp
        store.add_event(run_id, "condition.completed", f"condition {index} done", t_s=t_s + 130.0)
        t_s += 150.0
    if trip:
        store.add_event(run_id, "interlock.overpressure", "line pressure 9.1 bar > 8.0 bar; pumps stopped",
                        level="error", t_s=t_s, details={"pressure_bar": 9.1, "limit_bar": 8.0})
    store.finish_run(run_id, "tripped" if trip else "completed")
    return run_id


def open_concurrently(url: str, n: int) -> list[BaseException]:
    """Open ``url`` with ``n`` stores at the same instant (threads behind a barrier), as processes starting
    together would; returns the errors raised (none expected)."""
    import threading

    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def open_one() -> None:
        barrier.wait()
        try:
            with Store(url) as s:
                s.list_runs()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return errors
