"""Continuous flow from two alternating syringes (the paper's "two alternating syringes in parallel").

No pump on the paper's list alternates by itself, so the alternation is flowqd's control logic, built on any two
:class:`~flowqd.devices.protocols.SyringePump` objects (real or simulated). :meth:`AlternatingPump.service` is
called once per control period by the run engine:

1. the idle syringe is refilled from the reservoir as soon as it is not full;
2. when the active syringe falls to :meth:`AlternatingPump.trigger_volume_ml` (``switch_volume_ml``, or 25 s of
   flow if more) the (full) partner is **primed**: driven at a tiny
   ``prime_flow_ml_min`` until it reports flow, which takes up the drive's backlash/compliance (the dead time
   that otherwise makes a switch dip);
3. then the two commands are **cross-faded**: partner ``s·q``, active ``(1 − s)·q`` with ``s`` rising linearly
   over ``overlap_s`` (shortened so the active syringe cannot run dry) — both syringes have the same lag, so the
   delivered sum stays at ``q``;
4. at ``s = 1`` the old syringe is commanded to 0 (it decelerates while the partner reaches ``q``) and, once it
   has stopped, refills.

Without overlap (``overlap=False``) the partner starts only when the active syringe is empty: the delivered flow
dips to zero for the start-up transient — the behaviour the overlap exists to avoid.
"""

from __future__ import annotations

from flowqd.devices.clock import Clock
from flowqd.devices.protocols import SyringePump, check_range
from flowqd.errors import RangeError

__all__ = ["AlternatingPump"]


class AlternatingPump:
    """A :class:`~flowqd.devices.protocols.DualSyringePump` made of two syringe pumps.

    Parameters
    ----------
    name : str
    a, b : SyringePump
        The two syringes ("A" starts active). Their own ``min_flow_ml_min`` is the *drive* minimum (used during
        the cross-fade); the process range of this pump is ``min_flow_ml_min``/``max_flow_ml_min``.
    clock : Clock
    switch_volume_ml : float
        Volume left in the active syringe at which the hand-over starts.
    overlap : bool
        Cross-fade the syringes (default) or switch only when empty.
    overlap_s : float
        Longest cross-fade.
    prime_flow_ml_min : float
        Flow used to take up the partner's backlash before the cross-fade.
    min_flow_ml_min, max_flow_ml_min : float, optional
        Process flow range of the pair (default: the syringes' range).
    full_fraction : float
        A syringe counts as ready when it holds at least this fraction of its volume and is not refilling.
    """

    def __init__(self, name: str, a: SyringePump, b: SyringePump, clock: Clock, *, switch_volume_ml: float = 0.25,
                 overlap: bool = True, overlap_s: float = 30.0, prime_flow_ml_min: float = 0.002,
                 prime_timeout_s: float = 15.0, min_flow_ml_min: float | None = None,
                 max_flow_ml_min: float | None = None, full_fraction: float = 0.95) -> None:
        self.name = name
        self._clock = clock
        self._syringes = {"A": a, "B": b}
        self.syringe_volume_ml = float(min(a.syringe_volume_ml, b.syringe_volume_ml))
        self.pressure_rating_bar = float(min(a.pressure_rating_bar, b.pressure_rating_bar))
        drive_min = float(max(a.min_flow_ml_min, b.min_flow_ml_min))
        self.min_flow_ml_min = float(min_flow_ml_min) if min_flow_ml_min is not None else drive_min
        self.max_flow_ml_min = float(max_flow_ml_min) if max_flow_ml_min is not None else float(
            min(a.max_flow_ml_min, b.max_flow_ml_min))
        self._drive_min = drive_min
        self.switch_volume_ml = check_range("switch_volume_ml", switch_volume_ml, 0.0, self.syringe_volume_ml / 2,
                                            "mL")
        self.full_fraction = check_range("full_fraction", full_fraction, 0.5, 1.0, "")
        self.overlap = bool(overlap)
        self.overlap_s = check_range("overlap_s", overlap_s, 1.0, 600.0, "s")
        self.prime_flow_ml_min = max(float(prime_flow_ml_min), drive_min)
        self.prime_timeout_s = float(prime_timeout_s)
        self._active = "A"
        self._flow_set = 0.0
        self._phase = "idle"
        self._t_phase = 0.0
        self._ramp_s = self.overlap_s
        self.swaps = 0

    # -- helpers ------------------------------------------------------------------------------------------------
    @property
    def _partner_name(self) -> str:
        return "B" if self._active == "A" else "A"

    def _ready(self, pump: SyringePump) -> bool:
        return (not pump.is_refilling()) and pump.volume_left_ml() >= self.full_fraction * pump.syringe_volume_ml

    def _swap(self) -> None:
        old = self._syringes[self._active]
        old.stop()
        self._active = self._partner_name
        self._phase = "idle"
        self.swaps += 1
        old.refill()

    # -- DualSyringePump ----------------------------------------------------------------------------------------
    def set_flow_ml_min(self, flow_ml_min: float) -> None:
        """Total flow set point, mL/min (0 stops both syringes; otherwise within the process range)."""
        q = float(flow_ml_min)
        if q < 0:
            raise RangeError(f"{self.name} flow must not be negative ({q:g} mL/min)")
        if q != 0.0:
            check_range(f"{self.name} flow", q, self.min_flow_ml_min, self.max_flow_ml_min, "mL/min")
        if q == 0.0:
            self.stop()
            return
        self._flow_set = q
        if self._phase != "idle":  # a change during a hand-over: finish it at once
            self._syringes[self._partner_name].set_flow_ml_min(q)
            self._swap()
            return
        active = self._syringes[self._active]
        partner = self._syringes[self._partner_name]
        if (active.is_refilling() or active.volume_left_ml() <= self.trigger_volume_ml()) and self._ready(partner):
            active.stop()
            self._active = self._partner_name
            active = partner
        active.set_flow_ml_min(q)

    def flow_ml_min(self) -> float:
        """Total delivered flow, mL/min."""
        return float(sum(p.flow_ml_min() for p in self._syringes.values()))

    def volume_left_ml(self) -> float:
        """Liquid left in the active syringe, mL."""
        return self._syringes[self._active].volume_left_ml()

    def pressure_bar(self) -> float:
        """Outlet pressure (the higher of the two syringes), bar."""
        return float(max(p.pressure_bar() for p in self._syringes.values()))

    def active_syringe(self) -> str:
        """``"A"`` or ``"B"``."""
        return self._active

    def partner_ready(self) -> bool:
        """True when the idle syringe is full and not refilling."""
        return self._ready(self._syringes[self._partner_name])

    def trigger_volume_ml(self) -> float:
        """Volume left in the active syringe at which the hand-over starts at the present set point.

        ``max(switch_volume_ml, 25 s of flow)``: the prime, the fade and the deceleration must fit in it.
        """
        return max(self.switch_volume_ml, self._flow_set * 25.0 / 60.0)

    def starved(self) -> bool:
        """True when the active syringe reached its hand-over volume and no partner can take over."""
        if self._flow_set == 0.0 or self._phase != "idle":
            return False
        return self.volume_left_ml() <= self.trigger_volume_ml() and not self.partner_ready()

    def service(self) -> None:
        """Alternation bookkeeping; call once per control period."""
        active = self._syringes[self._active]
        partner = self._syringes[self._partner_name]
        q = self._flow_set
        now = self._clock.now()
        if self._phase == "idle" and not partner.is_refilling() and \
                partner.volume_left_ml() < self.full_fraction * partner.syringe_volume_ml:
            partner.refill()
        if q == 0.0:
            if not active.is_refilling() and active.volume_left_ml() < self.full_fraction * active.syringe_volume_ml:
                active.refill()
            return
        if self._phase == "prime":
            if partner.flow_ml_min() > 0.0 or now - self._t_phase >= self.prime_timeout_s:
                self._phase = "ramp"
                self._t_phase = now
            return
        if self._phase == "finish":
            if active.flow_ml_min() <= 0.01 * q or now - self._t_phase >= self.prime_timeout_s:
                self._swap()
            return
        if self._phase == "ramp":
            s = (now - self._t_phase) / self._ramp_s
            if s >= 1.0 or active.volume_left_ml() <= 1e-6:
                partner.set_flow_ml_min(q)
                active.set_flow_ml_min(0.0)  # decelerates with the same lag the partner accelerates with
                self._phase = "finish"
                self._t_phase = now
            else:
                partner.set_flow_ml_min(max(s * q, self._drive_min))
                active.set_flow_ml_min(max((1.0 - s) * q, self._drive_min))
            return
        if self.overlap:
            trigger = self.trigger_volume_ml()
            if active.volume_left_ml() <= trigger and self._ready(partner):
                partner.set_flow_ml_min(self.prime_flow_ml_min)
                self._phase = "prime"
                self._t_phase = now
                # prime (~q), fade (~q/2) and deceleration must fit in the trigger volume with margin
                self._ramp_s = max(min(self.overlap_s, 0.4 * 60.0 * trigger / q), 1.0)
        elif active.volume_left_ml() <= 1e-6 and self._ready(partner):
            partner.set_flow_ml_min(q)
            self._swap()

    def quiet_until_s(self) -> float:
        """Latest time up to which :meth:`service` has nothing to do (``now`` when it has something to do now).

        Nothing to do: no hand-over in progress; the partner full or refilling; stopped with both syringes full,
        or running with the active syringe above its trigger volume (the horizon is when it reaches it).
        """
        now = self._clock.now()
        if self._phase != "idle":
            return now
        active = self._syringes[self._active]
        partner = self._syringes[self._partner_name]
        if not partner.is_refilling() and \
                partner.volume_left_ml() < self.full_fraction * partner.syringe_volume_ml:
            return now
        if self._flow_set == 0.0:
            full = (not active.is_refilling()
                    and active.volume_left_ml() >= self.full_fraction * active.syringe_volume_ml)
            return float("inf") if full else now
        trigger = self.trigger_volume_ml() if self.overlap else 1e-6
        q = max(active.flow_ml_min(), self._flow_set)  # an accelerating syringe empties no faster than this
        left = active.volume_left_ml() - trigger
        if q <= 0.0 or left <= 0.0:
            return now
        return now + left / q * 60.0

    def stop(self) -> None:
        """Stop both syringes (no refill is started)."""
        self._phase = "idle"
        self._flow_set = 0.0
        for p in self._syringes.values():
            p.stop()
