"""Spectral analytics: every spectrum into peak, size distribution, yield and colour.

Modules (one per method family): :mod:`.spectrum` (the record), :mod:`.io` (readers), :mod:`.preprocess`,
:mod:`.exciton` (first exciton peak), :mod:`.psd` (Segets PSD inversion and forward model),
:mod:`.concentration` (volume fraction, yield, production rate), :mod:`.pl` (PL peak, FWHM), :mod:`.plqy`,
:mod:`.cie` (CIE 1931 colour), :mod:`.quality` (gates against garbage input).

Notebook use::

    from flowqd.analysis import read_spectra, analyze_absorbance, analyze_pl
    results = [analyze_absorbance(s, material="CdSe") for s in read_spectra("series.csv")]
    print(results[0].summary()); results[0].plot()

Nothing here imports matplotlib or switches its backend; ``.plot(ax=None)`` draws on the current figure.
"""

from typing import TYPE_CHECKING, Any

from flowqd.analysis.spectrum import Spectrum

if TYPE_CHECKING:  # for type checkers and editors; at run time they are loaded on first use (__getattr__)
    from flowqd.analysis.absorbance import analyze_absorbance
    from flowqd.analysis.io import read_spectra, read_spectrum
    from flowqd.analysis.pl import analyze_pl

__all__ = ["Spectrum", "analyze_absorbance", "analyze_pl", "read_spectra", "read_spectrum"]


def __getattr__(name: str) -> Any:  # lazily: importing flowqd.analysis stays cheap (no scipy)
    if name in ("read_spectra", "read_spectrum"):
        from flowqd.analysis import io

        return getattr(io, name)
    if name == "analyze_absorbance":
        from flowqd.analysis.absorbance import analyze_absorbance

        return analyze_absorbance
    if name == "analyze_pl":
        from flowqd.analysis.pl import analyze_pl

        return analyze_pl
    raise AttributeError(name)
