"""Spectral analytics: every spectrum into peak, size distribution, yield and colour.

Modules (one per method family): :mod:`.spectrum` (the record), :mod:`.io` (readers), :mod:`.preprocess`,
:mod:`.exciton` (first exciton peak), :mod:`.psd` (Segets PSD inversion and forward model),
:mod:`.concentration` (volume fraction, yield, production rate), :mod:`.pl` (PL peak, FWHM), :mod:`.plqy`,
:mod:`.cie` (CIE 1931 colour).
"""

from flowqd.analysis.spectrum import Spectrum

__all__ = ["Spectrum"]
