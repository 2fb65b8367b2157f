"""Shared contract tests for spectrum-analysis methods (pybaselines ``BaseTester`` style).

A test class inherits :class:`SpectrumMethodContract` and defines

- ``method(self, spectrum)``: call the function under test on a :class:`~flowqd.analysis.spectrum.Spectrum`;
- optionally ``make_spectrum(self)``: the input (default: a Gaussian emission/absorbance band on 400–800 nm);
- optionally ``accepts_arrays``: ``method_arrays(self, wavelength_nm, values)`` for functions that take raw arrays.

The contract checks that the input is not mutated, that list input (through ``Spectrum``) gives the same result as
array input, and that repeated calls give identical results.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from flowqd.analysis.spectrum import Spectrum

__all__ = ["SpectrumMethodContract", "assert_same_result"]


def assert_same_result(a: Any, b: Any) -> None:
    """Deep equality for results: Spectrum, dataclasses, tuples, arrays, floats (NaN == NaN)."""
    if isinstance(a, Spectrum):
        assert isinstance(b, Spectrum)
        np.testing.assert_array_equal(a.wavelength_nm, b.wavelength_nm)
        np.testing.assert_array_equal(a.values, b.values)
        assert a.kind == b.kind
        return
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        assert type(a) is type(b)
        for f in dataclasses.fields(a):
            assert_same_result(getattr(a, f.name), getattr(b, f.name))
        return
    if isinstance(a, tuple | list):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_same_result(x, y)
        return
    if isinstance(a, np.ndarray | float | np.floating):
        np.testing.assert_array_equal(a, b)
        return
    assert a == b


class SpectrumMethodContract:
    """Mix-in of contract tests; subclasses define ``method(spectrum)``."""

    kind: str = "intensity"

    def method(self, spectrum: Spectrum) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def make_spectrum(self) -> Spectrum:
        wl = np.arange(400.0, 850.5, 0.5)
        values = 0.02 + np.exp(-0.5 * ((wl - 607.0) / 38.2) ** 2)
        return Spectrum(wl, values, kind=self.kind, source="contract.csv")  # type: ignore[arg-type]

    def test_input_not_mutated(self) -> None:
        s = self.make_spectrum()
        wl, y = s.wavelength_nm.copy(), s.values.copy()
        meta = dict(s.metadata)
        self.method(s)
        np.testing.assert_array_equal(s.wavelength_nm, wl)
        np.testing.assert_array_equal(s.values, y)
        assert dict(s.metadata) == meta

    def test_list_input(self) -> None:
        s = self.make_spectrum()
        from_lists = Spectrum(s.wavelength_nm.tolist(), s.values.tolist(), kind=s.kind, source=s.source,
                              metadata=dict(s.metadata))
        assert_same_result(self.method(s), self.method(from_lists))

    def test_repeated_calls_identical(self) -> None:
        s = self.make_spectrum()
        assert_same_result(self.method(s), self.method(s))
