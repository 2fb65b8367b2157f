"""Read and write spectra: CSV/TSV, JCAMP-DX, Ocean Insight OceanView and Avantes AvaSoft text exports.

Every reader returns a validated :class:`~flowqd.analysis.spectrum.Spectrum` on a wavelength axis in nm, strictly
increasing, with ``source`` set to the file name. Every failure — an empty or truncated file, a non-numeric cell, a
NaN, a decreasing axis, an axis that looks like µm or eV but was not declared — is a
:class:`~flowqd.errors.SpectrumError` whose one-line message starts with the file name. Nothing is fixed silently:
no sorting, no dropping of rows, no guessing of units.

Public objects
--------------
- :func:`read_spectrum`, :func:`read_spectra`: the dispatchers (``format="auto"`` sniffs extension and content).
- :data:`READERS`: format name -> reader function (``"csv"``, ``"jcamp"``, ``"oceanview"``, ``"avantes"``).
- :func:`write_spectrum_csv`, :func:`write_jcamp`: writers (JCAMP-DX 5.01, ``##XYPOINTS=(XY..XY)``).

Unit rules
----------
The wavelength axis is nm unless declared otherwise, either by the caller (``wavelength_unit="um"|"ev"|"cm-1"``)
or by the file itself (JCAMP ``##XUNITS``). Declared energy (eV) and wavenumber (cm⁻¹) axes are converted to nm and
reversed to ascending order; that is the only reordering a reader ever does. Only the axis is converted: values
are not rescaled (a density per eV stays per eV; see :func:`flowqd.analysis.preprocess.resample_energy`).
An undeclared axis that is evidently not nm (all values < 20, or > 4000) is refused with a message saying what it
looks like and how to declare it.

Decimal commas are an error unless declared with ``decimal=","`` (a ``"1,234"`` cell is ambiguous between a
thousands separator and a decimal comma, and a wrong guess is silently off by 1000).

References
----------
- R. S. McDonald and P. A. Wilks, "JCAMP-DX: A Standard Form for Exchange of Infrared Spectra in Computer Readable
  Form", Appl. Spectrosc. 1988, 42, 151; JCAMP-DX 5.01 (IUPAC 1999/2001 revisions).
"""

from __future__ import annotations

import contextlib
import inspect
import io as _io
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any, Literal

import numpy as np

from flowqd.analysis.spectrum import SPECTRUM_KINDS, Spectrum
from flowqd.errors import FlowqdError, SpectrumError
from flowqd.units import HC_EV_NM

__all__ = [
    "READERS",
    "WAVELENGTH_UNITS",
    "read_avantes",
    "read_csv",
    "read_jcamp",
    "read_oceanview",
    "read_spectra",
    "read_spectrum",
    "write_jcamp",
    "write_spectrum_csv",
]

PathType = str | PathLike[str]
WavelengthUnit = Literal["nm", "um", "ev", "cm-1"]
#: Accepted spellings of the declared wavelength-axis unit -> canonical name.
WAVELENGTH_UNITS: Mapping[str, str] = {
    "nm": "nm", "nanometers": "nm", "nanometer": "nm",
    "um": "um", "µm": "um", "micrometers": "um", "micrometer": "um", "microns": "um",
    "ev": "ev", "electronvolts": "ev",
    "cm-1": "cm-1", "1/cm": "cm-1", "cm^-1": "cm-1", "wavenumbers": "cm-1",
}

OCEANVIEW_BEGIN = ">>>>>Begin Spectral Data<<<<<"
_FLOAT_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_NONFINITE = {"nan", "+nan", "-nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"}


# ---------------------------------------------------------------------------------------------------------------
# Text helpers
# ---------------------------------------------------------------------------------------------------------------


def _read_text(path: Path) -> str:
    src = str(path)
    try:
        raw = path.read_bytes()
    except IsADirectoryError:
        raise SpectrumError("is a directory, not a spectrum file", source=src) from None
    except FileNotFoundError:
        raise SpectrumError("no such file", source=src) from None
    if not raw.strip():
        raise SpectrumError("empty file", source=src)
    if b"\x00" in raw[:4096]:
        raise SpectrumError("binary file, not a text export (save the spectrum as text/CSV/JCAMP)", source=src)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _parse_cell(cell: str, *, decimal: str, src: str, line_no: int, col: int) -> float:
    """One numeric cell; NaN/inf and decimal commas are errors that name the line and the column."""
    text = cell.strip()
    if decimal == ",":
        if "." in text:
            raise SpectrumError(
                f"line {line_no}, column {col}: {text!r} has a '.' but decimal=',' was declared", source=src
            )
        text = text.replace(",", ".")
    if text.lower() in _NONFINITE:
        raise SpectrumError(f"line {line_no}, column {col}: NaN or infinite value {text!r}", source=src)
    if not _FLOAT_RE.match(text):
        if not text:
            raise SpectrumError(f"line {line_no}, column {col}: empty cell (truncated row?)", source=src)
        hint = ""
        if decimal == "." and re.fullmatch(r"[+-]?\d+,\d+", text):
            hint = " (decimal comma? declare it with decimal=',')"
        raise SpectrumError(f"line {line_no}, column {col}: {text!r} is not a number{hint}", source=src)
    return float(text)


def _is_number(cell: str, decimal: str) -> bool:
    text = cell.strip()
    if decimal == ",":
        text = text.replace(",", ".")
    return bool(_FLOAT_RE.match(text)) or text.lower() in _NONFINITE


def _split(line: str, delimiter: str | None) -> list[str]:
    cells = line.split() if delimiter is None else [c.strip() for c in line.split(delimiter)]
    while cells and cells[-1] == "":  # one trailing delimiter is common in exports
        cells.pop()
    return cells


def _sniff_delimiter(lines: Sequence[str]) -> str | None:
    """Tab, then semicolon, then comma, else whitespace (``None``), from the first lines."""
    # judge by the lines that start like a number (data rows), not by text in a preamble
    numeric = [line for line in lines if re.match(r"\s*[+-]?[\d.]", line)]
    sample = (numeric or list(lines))[:50]
    for delim in ("\t", ";", ","):
        if any(delim in line for line in sample):
            return delim
    return None


def _parse_table(
    lines: Sequence[tuple[int, str]],
    *,
    src: str,
    delimiter: str | None,
    decimal: str,
    allow_header: bool = True,
    n_columns: int | None = None,
) -> tuple[list[str], list[str], np.ndarray]:
    """Parse ``(line_no, text)`` rows into (preamble, column names, float array of shape (rows, columns))."""
    if decimal not in (".", ","):
        raise SpectrumError(f"decimal must be '.' or ',' (got {decimal!r})", source=src)
    if decimal == "," and delimiter == ",":
        raise SpectrumError("decimal=',' needs a delimiter other than ',' (tab, ';' or whitespace)", source=src)
    rows = [(n, _split(t, delimiter)) for n, t in lines if t.strip()]
    if not rows:
        raise SpectrumError("no data rows", source=src)
    preamble: list[str] = []
    names: list[str] = []
    i = 0
    while (
        allow_header
        and i < len(rows)
        and not any(_is_number(c, decimal) for c in rows[i][1])
        and any(re.search(r"[^\W\d_]", c) for c in rows[i][1])  # a header names things: it has letters
    ):
        preamble.append(" ".join(rows[i][1]))
        names = rows[i][1]
        i += 1
    if preamble:
        preamble.pop()  # the last non-numeric row is the header row
    data_rows = rows[i:]
    if not data_rows:
        raise SpectrumError("no numeric data rows", source=src)
    n_cols = n_columns or (len(names) if names else len(data_rows[0][1]))
    if n_cols < 2:
        raise SpectrumError(
            f"line {data_rows[0][0]}: only one column (wrong delimiter, or a spectrum without a wavelength axis?)",
            source=src,
        )
    values = np.empty((len(data_rows), n_cols))
    for r, (line_no, cells) in enumerate(data_rows):
        if len(cells) < n_cols:
            raise SpectrumError(
                f"line {line_no}: truncated row, {len(cells)} of {n_cols} cells", source=src
            )
        if len(cells) > n_cols:
            raise SpectrumError(f"line {line_no}: {len(cells)} cells, expected {n_cols}", source=src)
        for c, cell in enumerate(cells):
            values[r, c] = _parse_cell(cell, decimal=decimal, src=src, line_no=line_no, col=c + 1)
    if names and len(names) != n_cols:
        names = names[:n_cols] + [f"column {k + 1}" for k in range(len(names), n_cols)]
    return preamble, names, values


def _column_index(column: int | str, names: Sequence[str], n_cols: int, *, src: str, role: str) -> int:
    if isinstance(column, str):
        lowered = [n.strip().lower() for n in names]
        key = column.strip().lower()
        if key in lowered:
            return lowered.index(key)
        matches = [k for k, n in enumerate(lowered) if n.startswith(key)]
        if len(matches) == 1:
            return matches[0]
        raise SpectrumError(
            f"no {role} column named {column!r} (columns: {', '.join(names) or 'no header row'})", source=src
        )
    if not -n_cols <= column < n_cols:
        raise SpectrumError(f"{role} column {column} out of range (file has {n_cols} columns)", source=src)
    return column % n_cols


# ---------------------------------------------------------------------------------------------------------------
# Axis units
# ---------------------------------------------------------------------------------------------------------------


def _canonical_unit(unit: str | None, *, src: str) -> str | None:
    if unit is None:
        return None
    key = unit.strip().lower()
    if key not in WAVELENGTH_UNITS:
        raise SpectrumError(
            f"unknown wavelength unit {unit!r} (use one of 'nm', 'um', 'ev', 'cm-1')", source=src
        )
    return WAVELENGTH_UNITS[key]


def _check_undeclared_axis(x: np.ndarray, *, src: str, axis_label: str = "") -> None:
    """Refuse an undeclared axis that is evidently µm, eV or cm⁻¹ rather than nm."""
    label = axis_label.lower()
    energy_label = bool(re.search(r"\bev\b|energy", label))
    finite = x[np.isfinite(x)]
    if finite.size == 0:
        return
    lo, hi = float(np.min(finite)), float(np.max(finite))
    decreasing = finite.size > 1 and bool(np.all(np.diff(finite) < 0))
    if energy_label or (hi < 20 and decreasing) or (5 <= hi < 20):
        raise SpectrumError(
            f"the x axis ({lo:g}-{hi:g}{', header ' + repr(axis_label) if axis_label else ''}) looks like photon "
            "energy in eV, not nm; declare the unit: wavelength_unit='ev' (command line: --wavelength-unit ev)",
            source=src,
        )
    if hi < 5:
        raise SpectrumError(
            f"the x axis ({lo:g}-{hi:g}) looks like µm, not nm; declare the unit: wavelength_unit='um' "
            "(command line: --wavelength-unit um)", source=src
        )
    if lo > 4000:
        raise SpectrumError(
            f"the x axis ({lo:g}-{hi:g}) looks like wavenumbers in cm-1, not nm; declare the unit: "
            "wavelength_unit='cm-1' (command line: --wavelength-unit cm-1)",
            source=src,
        )


def _to_nm(
    x: np.ndarray, y: np.ndarray, unit: str | None, *, src: str, axis_label: str = ""
) -> tuple[np.ndarray, np.ndarray]:
    """Convert a declared axis to nm (reversing eV/cm⁻¹ axes to ascending); check an undeclared one."""
    if unit is None:
        _check_undeclared_axis(x, src=src, axis_label=axis_label)
        return x, y
    if unit == "nm":
        return x, y
    if unit == "um":
        return x * 1000.0, y
    if np.any(x <= 0):
        i = int(np.argmax(x <= 0))
        raise SpectrumError(f"non-positive {unit} value {x[i]:g} at data row {i + 1}", source=src)
    x_nm = HC_EV_NM / x if unit == "ev" else 1.0e7 / x
    if x_nm.size > 1 and np.all(np.diff(x_nm) < 0):
        return x_nm[::-1].copy(), y[::-1].copy()
    return x_nm, y


def _make_spectrum(
    x: np.ndarray,
    y: np.ndarray,
    *,
    kind: str,
    src: str,
    unit: str | None,
    metadata: dict[str, Any],
    axis_label: str = "",
    reverse_descending: bool = True,
) -> Spectrum:
    if kind not in SPECTRUM_KINDS:
        raise SpectrumError(f"unknown spectrum kind {kind!r} (use one of {', '.join(SPECTRUM_KINDS)})", source=src)
    bad = ~np.isfinite(x) | ~np.isfinite(y)
    if np.any(bad):
        i = int(np.argmax(bad))
        raise SpectrumError(f"NaN or infinite value at data row {i + 1}", source=src)
    x_nm, y = _to_nm(x, y, unit, src=src, axis_label=axis_label)
    if reverse_descending and x_nm.size > 1 and np.all(np.diff(x_nm) < 0):
        x_nm, y = x_nm[::-1].copy(), y[::-1].copy()
        metadata["reversed_axis"] = True
    metadata.setdefault("wavelength_unit_in_file", unit or "nm")
    return Spectrum(x_nm, y, kind=kind, source=src, metadata=metadata)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------------------------
# Readers
# ---------------------------------------------------------------------------------------------------------------


def read_csv(
    path: PathType,
    *,
    kind: str = "absorbance",
    wavelength_unit: str | None = None,
    x_column: int | str = 0,
    y_column: int | str | None = None,
    delimiter: str | None = "auto",
    decimal: str = ".",
    reverse_descending: bool = True,
) -> Spectrum:
    """Read one spectrum from a delimited text file (CSV, TSV, semicolon- or whitespace-separated).

    The file is read by :func:`read_table` (preamble and trailer blocks of vendor exports, a header row naming the
    columns, one data block). A file with more than one value column needs ``y_column`` here; :func:`read_spectra`
    reads every column.

    Parameters
    ----------
    path : str or path-like
        The file.
    kind : {"absorbance", "intensity", "transmittance"}
        What the value column holds.
    wavelength_unit : {None, "nm", "um", "ev", "cm-1"}
        Unit of the x column; ``None`` means nm, with a check that the axis does not evidently look like another
        unit.
    x_column, y_column : int or str
        Column index (0-based) or header name (case-insensitive, unique prefix allowed). ``y_column=None`` takes
        the second column of a two-column file and is an error for wider files.
    delimiter : {"auto", ",", "\\t", ";", None}
        ``"auto"`` sniffs tab, then semicolon, then comma, else whitespace (``None``).
    decimal : {".", ","}
        Decimal separator. A decimal comma must be declared.
    reverse_descending : bool
        A strictly descending wavelength axis (a scan from red to blue, as most scanning spectrophotometers write)
        is reversed and ``metadata['reversed_axis']`` set; ``False`` makes it an error. An axis that is neither
        ascending nor descending is always an error.

    Returns
    -------
    Spectrum

    Raises
    ------
    SpectrumError
        On any unreadable, incomplete or implausible content; the message starts with the file name.
    """
    p = Path(path)
    src = str(p)
    table = read_table(p, delimiter=delimiter, decimal=decimal)
    if table.paired:
        if y_column is None and len(table.labels) > 1:
            raise SpectrumError(
                f"{len(table.labels)} spectra in paired columns ({', '.join(table.labels)}); choose one with "
                "y_column= (command line: --column) or read them all with read_spectra", source=src)
        k = 0 if y_column is None else _column_index(y_column, list(table.labels), len(table.labels), src=src,
                                                     role="spectrum")
        return table.spectrum(k, kind=kind, unit=_table_unit(table, wavelength_unit),
                              reverse_descending=reverse_descending)
    n_cols = table.values.shape[1]
    names = list(table.names)
    xi = _column_index(x_column, names, n_cols, src=src, role="wavelength")
    if y_column is None:
        if n_cols != 2:
            cols = ", ".join(names) if names else f"{n_cols} unnamed columns"
            raise SpectrumError(
                f"{n_cols} columns ({cols}); choose the value column with y_column= (command line: --column) "
                "or read them all with read_spectra", source=src)
        yi = 1 - xi
    else:
        yi = _column_index(y_column, names, n_cols, src=src, role="value")
    return table.column_spectrum(xi, yi, kind=kind, unit=_table_unit(table, wavelength_unit),
                                 reverse_descending=reverse_descending)


#: Largest spectrum file read (bytes) and most points per spectrum: a spectrometer writes 10^3-10^4 points; a
#: larger file is a wrong export (an image, a kinetics log), refused at once rather than parsed for minutes.
MAX_FILE_BYTES: int = 16_000_000
MAX_POINTS: int = 200_000

_WAVELENGTH_LABEL = re.compile(r"wave|wellen|nm\b|lambda|λ", re.IGNORECASE)
_VALUE_HINTS: tuple[tuple[str, str], ...] = (
    (r"%\s*t\b|\bt\s*%|transmit", "transmittance"),
    (r"\babs|absorb|\bod\b|optical density", "absorbance"),
    (r"excitation|\bex\b", "excitation"),
    (r"emission|\bpl\b|fluoresc|photolum|counts|\bcps\b|intensity|\bint\b", "intensity"),
)


def kind_hint(text: str) -> str | None:
    """What a header or units text says the values are: absorbance, transmittance, intensity, excitation or None.

    >>> kind_hint("%T"), kind_hint("Abs."), kind_hint("Emission (CPS)"), kind_hint("20 s")
    ('transmittance', 'absorbance', 'intensity', None)
    """
    for pattern, kind in _VALUE_HINTS:
        if re.search(pattern, text, flags=re.IGNORECASE):
            return kind
    return None


@dataclass(frozen=True)
class Table:
    """A numeric table read from a text export by :func:`read_table`.

    Attributes
    ----------
    source : str
        The file.
    names : tuple of str
        Column names from the header row (empty when there is none).
    labels : tuple of str
        One label per spectrum: the value-column names (one x column) or the sample names of paired columns.
    values : ndarray, shape (rows, columns)
        The data block.
    paired : bool
        Columns come in (wavelength, value) pairs, one pair per sample (Agilent Cary CSV).
    preamble, trailer : tuple of str
        The text before the header row and after the data block.
    metadata : dict
        ``key: value`` or ``key,value`` pairs of the preamble (JASCO ``XUNITS``, ``YUNITS``…), the format name.
    first_line : int
        Line number of the first data row.
    """

    source: str
    names: tuple[str, ...]
    labels: tuple[str, ...]
    values: np.ndarray
    paired: bool
    preamble: tuple[str, ...]
    trailer: tuple[str, ...]
    metadata: Mapping[str, Any]
    first_line: int

    @property
    def n_spectra(self) -> int:
        return len(self.labels)

    def _base_metadata(self) -> dict[str, Any]:
        md: dict[str, Any] = dict(self.metadata)
        if self.preamble:
            md["preamble"] = self.preamble
        if self.trailer:
            md["trailer"] = self.trailer[:50]
        return md

    def column_spectrum(self, xi: int, yi: int, *, kind: str, unit: str | None, reverse_descending: bool = True,
                        label: str | None = None) -> Spectrum:
        """The spectrum of value column ``yi`` against column ``xi``."""
        md = self._base_metadata()
        src = self.source if label is None else f"{self.source} [{label}]"
        if self.names:
            md["columns"] = (self.names[xi], self.names[yi])
        if label is not None:
            md["label"] = label
        spectrum = _make_spectrum(self.values[:, xi], self.values[:, yi], kind=kind, src=src, unit=unit,
                                  metadata=md, axis_label=self.names[xi] if self.names else "",
                                  reverse_descending=reverse_descending)
        if self.names:
            _check_kind_hint(self.names[yi], kind, src=src)
        _check_kind_hint(str(self.metadata.get("YUNITS", "")), kind, src=src)
        return spectrum

    def spectrum(self, k: int, *, kind: str, unit: str | None, reverse_descending: bool = True,
                 labelled: bool = False) -> Spectrum:
        """Spectrum number ``k`` (0-based) of the table: value column ``k + 1``, or pair ``k``."""
        label = self.labels[k] if labelled else None
        if self.paired:
            x, y = self.values[:, 2 * k], self.values[:, 2 * k + 1]
            keep = np.isfinite(x) & np.isfinite(y)  # a shorter sample leaves empty cells at the end of its pair
            md = self._base_metadata()
            md["label"] = self.labels[k]
            src = self.source if label is None else f"{self.source} [{label}]"
            return _make_spectrum(x[keep], y[keep], kind=kind, src=src, unit=unit, metadata=md,
                                  axis_label=self.names[2 * k] if self.names else "",
                                  reverse_descending=reverse_descending)
        return self.column_spectrum(0, k + 1, kind=kind, unit=unit, reverse_descending=reverse_descending,
                                    label=label)


_KIND_ADVICE = {
    "absorbance": "an absorbance spectrum (flowqd analyze absorbance)",
    "transmittance": "a transmittance spectrum (%T; convert to absorbance A = -log10(T))",
    "intensity": "an emission/intensity spectrum (flowqd analyze pl)",
    "excitation": "a PL excitation spectrum (neither absorbance nor emission)",
}


def _check_kind_hint(text: str, kind: str, *, src: str) -> None:
    """A header that names another kind of spectrum than asked for is an error naming the likely kind."""
    hint = kind_hint(text) if text.strip() else None
    if hint is None or hint == kind:
        return
    raise SpectrumError(f"the values are labelled {text.strip()!r}: this looks like {_KIND_ADVICE[hint]}, "
                        f"not {kind} (wrong command or wrong file?)", source=src)


def _strip_quotes(cells: list[str]) -> list[str]:
    return [c[1:-1].strip() if len(c) >= 2 and c[0] == c[-1] and c[0] in "\"'" else c for c in cells]


def _starts_numeric(cells: Sequence[str], decimal: str) -> bool:
    return bool(cells) and _is_number(cells[0], decimal)


def read_table(path: PathType, *, delimiter: str | None = "auto", decimal: str = ".") -> Table:
    """Read the numeric table of a text export: preamble, header row, data block, trailer.

    Rules (they cover plain CSV/TSV and the text exports of JASCO, Agilent Cary, Shimadzu UVProbe, PerkinElmer
    UV WinLab and Thermo/Ocean software):

    - ``#`` lines are comments; cells may be quoted; rows whose cells are all empty are skipped.
    - The data block starts at the first row with at least two cells whose first cell is a number. Rows before
      it are the preamble; ``key,value`` / ``key: value`` preamble rows go to ``metadata`` (JASCO ``XUNITS``…),
      and the last preamble row with one name per column is the header.
    - Inside the block every row must be complete and numeric (else the error names the line and cell). The
      block ends at the first row whose first cell is text or empty: from there on everything is the trailer
      (JASCO ``[Detailed Information]``, Cary method blocks, notes typed into a spreadsheet).
    - A header of repeated wavelength names at every other column (``Wavelength (nm),Abs,Wavelength (nm),Abs``)
      means (x, y) pairs, one per sample, named by the row above (Cary CSV); empty cells at the end of a pair are
      allowed (samples of different lengths).

    Files larger than :data:`MAX_FILE_BYTES` or with more than :data:`MAX_POINTS` rows are refused at once.
    """
    p = Path(path)
    src = str(p)
    with contextlib.suppress(OSError):
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            raise SpectrumError(
                f"file is {size / 1e6:.1f} MB, over the {MAX_FILE_BYTES / 1e6:.0f} MB limit for a spectrum file "
                f"(at most {MAX_POINTS} points per spectrum); export only the spectra and range you need",
                source=src)
    text = _read_text(p)
    if decimal not in (".", ","):
        raise SpectrumError(f"decimal must be '.' or ',' (got {decimal!r})", source=src)
    all_lines = text.splitlines()
    if len(all_lines) > MAX_POINTS + 10_000:  # refused before any cell is parsed
        raise SpectrumError(f"{len(all_lines)} lines, over the limit of {MAX_POINTS} points per spectrum", source=src)
    comments: list[str] = []
    lines: list[tuple[int, str]] = []
    for n, line in enumerate(all_lines, start=1):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            comments.append(stripped.lstrip("#").strip())
            continue
        lines.append((n, line))
    if not lines:
        raise SpectrumError("no data rows (only comments)", source=src)
    delim = _sniff_delimiter([t for _, t in lines]) if delimiter == "auto" else delimiter
    if decimal == "," and delim == ",":
        raise SpectrumError("decimal=',' needs a delimiter other than ',' (tab, ';' or whitespace)", source=src)
    rows: list[tuple[int, list[str]]] = []
    for n, t in lines:
        cells = _strip_quotes(_split(t, delim))
        if any(c for c in cells):
            rows.append((n, cells))
    start = next((i for i, (_, c) in enumerate(rows) if len(c) >= 2 and _starts_numeric(c, decimal)), None)
    if start is None:
        for n, c in rows:  # a decimal comma that was not declared: say so
            if c and decimal == "." and re.fullmatch(r"[+-]?\d+,\d+", c[0].strip()):
                _parse_cell(c[0], decimal=decimal, src=src, line_no=n, col=1)
        if any(_starts_numeric(c, decimal) for _, c in rows):
            first = next(n for n, c in rows if _starts_numeric(c, decimal))
            raise SpectrumError(
                f"line {first}: only one column (wrong delimiter, or a spectrum without a wavelength axis?)",
                source=src)
        raise SpectrumError("no numeric data rows", source=src)
    pre = rows[:start]
    # the data block: up to the first row that starts with text (or an empty cell): the trailer
    stop = next((i for i in range(start, len(rows)) if not _starts_numeric(rows[i][1], decimal)), len(rows))
    block = rows[start:stop]
    trailer = tuple(" ".join(c for c in cells if c) for _, cells in rows[stop:])
    if len(block) > MAX_POINTS:
        raise SpectrumError(f"{len(block)} data rows, over the limit of {MAX_POINTS} points per spectrum",
                            source=src)
    metadata: dict[str, Any] = {"format": "csv"}
    if comments:
        metadata["comments"] = tuple(comments)
    for _, cells in pre:
        if len(cells) >= 2 and cells[0] and not _is_number(cells[0], decimal) and len([c for c in cells if c]) == 2:
            metadata.setdefault(cells[0].strip().rstrip(":"), cells[1].strip())
        elif len(cells) == 1 and ":" in cells[0]:
            key, _, value = cells[0].partition(":")
            if key.strip():
                metadata.setdefault(key.strip(), value.strip())
    n_cols = max(len(c) for _, c in block[: min(len(block), 20)])
    header_i = next(
        (i for i in range(len(pre) - 1, -1, -1)
         if len(pre[i][1]) >= n_cols - 1 and len(pre[i][1]) >= 2
         and sum(bool(re.search(r"[^\W\d_]", c)) for c in pre[i][1]) >= 1
         and sum(1 for c in pre[i][1] if c) >= min(2, n_cols)),
        None,
    )
    names: list[str] = []
    if header_i is not None:
        names = list(pre[header_i][1][:n_cols])
        names += [f"column {k + 1}" for k in range(len(names), n_cols)]
        names = [nm or f"column {k + 1}" for k, nm in enumerate(names)]
    paired = (n_cols >= 4 and n_cols % 2 == 0 and bool(names)
              and all(_WAVELENGTH_LABEL.search(names[k]) for k in range(0, n_cols, 2)))
    values = np.full((len(block), n_cols), np.nan)
    for r, (line_no, cells) in enumerate(block):
        if len(cells) > n_cols:
            raise SpectrumError(f"line {line_no}: {len(cells)} cells, expected {n_cols}", source=src)
        if len(cells) < n_cols and not paired:
            raise SpectrumError(f"line {line_no}: truncated row, {len(cells)} of {n_cols} cells", source=src)
        for c, cell in enumerate(cells):
            if paired and not cell.strip():
                continue
            values[r, c] = _parse_cell(cell, decimal=decimal, src=src, line_no=line_no, col=c + 1)
    if paired:
        above = pre[header_i - 1][1] if header_i else []
        labels = tuple(
            (above[2 * k].strip() if 2 * k < len(above) and above[2 * k].strip() else f"sample {k + 1}")
            for k in range(n_cols // 2))
        metadata["format"] = "paired-csv"
    else:
        labels = tuple(names[1:]) if names else tuple(f"column {k + 1}" for k in range(1, n_cols))
    preamble = tuple(" ".join(c for c in cells if c) for _, cells in pre[: header_i if header_i is not None
                                                                         else len(pre)])
    return Table(source=src, names=tuple(names), labels=labels, values=values, paired=paired,
                 preamble=preamble, trailer=trailer, metadata=metadata, first_line=block[0][0])


def _header_key_values(lines: Iterable[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in lines:
        if ":" in line:
            key, _, value = line.partition(":")
            if key.strip():
                out[key.strip()] = value.strip()
    return out


def read_oceanview(
    path: PathType,
    *,
    kind: str = "absorbance",
    wavelength_unit: str | None = None,
    decimal: str = ".",
    reverse_descending: bool = True,
) -> Spectrum:
    """Read an Ocean Insight OceanView (or SpectraSuite) text export.

    The header block ends with the line ``>>>>>Begin Spectral Data<<<<<``; its ``key: value`` lines
    (``Integration Time (sec)``, ``Scans to average``, ``Spectrometer``…) go to ``metadata``. Data rows are
    tab-separated wavelength / value pairs, up to an optional ``>>>>>End Spectral Data<<<<<`` line. The file does
    not say what the values are, so ``kind`` is the caller's statement (raw counts are ``"intensity"``).
    An ``XAxis mode`` other than ``Wavelengths`` must be declared with ``wavelength_unit``.

    Parameters are those of :func:`read_csv`.
    """
    p = Path(path)
    src = str(p)
    all_lines = _read_text(p).splitlines()
    begin = next((i for i, line in enumerate(all_lines) if line.strip().startswith(">>>>>Begin")), None)
    if begin is None:
        raise SpectrumError(f"no {OCEANVIEW_BEGIN!r} line: not an OceanView text export", source=src)
    header = _header_key_values(all_lines[:begin])
    data: list[tuple[int, str]] = []
    for n, line in enumerate(all_lines[begin + 1:], start=begin + 2):
        if line.strip().startswith(">>>>>End"):
            break
        if line.strip():
            data.append((n, line))
    if not data:
        raise SpectrumError("no spectral data after the 'Begin Spectral Data' line", source=src)
    unit = _canonical_unit(wavelength_unit, src=src)
    mode = header.get("XAxis mode", "Wavelengths")
    if unit is None and mode.lower() not in ("wavelengths", "wavelength"):
        raise SpectrumError(
            f"XAxis mode is {mode!r}, not wavelengths; declare the unit with wavelength_unit=", source=src
        )
    delim = "\t" if any("\t" in t for _, t in data) else None
    _, _, table = _parse_table(data, src=src, delimiter=delim, decimal=decimal, allow_header=False)
    if table.shape[1] != 2:
        raise SpectrumError(f"{table.shape[1]} columns after the header, expected wavelength and value", source=src)
    metadata: dict[str, Any] = {"format": "oceanview", **header}
    return _make_spectrum(
        table[:, 0], table[:, 1], kind=kind, src=src, unit=unit, metadata=metadata,
        reverse_descending=reverse_descending,
    )


def read_avantes(
    path: PathType,
    *,
    kind: str = "absorbance",
    wavelength_unit: str | None = None,
    y_column: str | None = None,
    decimal: str = ".",
    reverse_descending: bool = True,
) -> Spectrum:
    """Read an Avantes AvaSoft "ASCII" export (semicolon-separated, ``Wave;Sample;Dark;Reference;…`` header).

    ``key: value`` lines before the ``Wave`` header go to ``metadata``; a units row (``[nm];[counts];…``) after it
    is skipped. The value is taken as follows:

    - ``y_column`` given: that column, as is.
    - ``Sample``, ``Dark`` and ``Reference`` present: ``kind="absorbance"`` gives
      :math:`A = -\\log_{10}[(S-D)/(R-D)]`, ``"transmittance"`` gives :math:`(S-D)/(R-D)`, ``"intensity"`` gives
      :math:`S-D`. This assumes the dark spectrum was taken with the same integration time and averaging as sample
      and reference (AvaSoft stores one dark for both), and that the reference is the blank (solvent cuvette).
      A non-positive ``S-D`` or ``R-D`` (dark above signal) is an error naming the wavelength, not a clipped value.
    - otherwise: the only column after ``Wave``.

    Other parameters are those of :func:`read_csv`.
    """
    p = Path(path)
    src = str(p)
    all_lines = _read_text(p).splitlines()
    head = next(
        (i for i, line in enumerate(all_lines) if line.strip().lower().startswith("wave") and ";" in line), None
    )
    if head is None:
        raise SpectrumError("no 'Wave;…' header row: not an AvaSoft ASCII export", source=src)
    names = _split(all_lines[head], ";")
    metadata: dict[str, Any] = {"format": "avantes", **_header_key_values(all_lines[:head]), "columns": tuple(names)}
    data = [
        (n, line)
        for n, line in enumerate(all_lines[head + 1:], start=head + 2)
        if line.strip() and not line.strip().startswith("[")
    ]
    if not data:
        raise SpectrumError("no data rows after the 'Wave' header", source=src)
    _, _, table = _parse_table(data, src=src, delimiter=";", decimal=decimal, allow_header=False,
                               n_columns=len(names))
    lowered = [n.lower() for n in names]
    x = table[:, 0]
    if y_column is not None:
        y = table[:, _column_index(y_column, names, len(names), src=src, role="value")]
    elif {"sample", "dark", "reference"} <= set(lowered):
        s, d, r = (table[:, lowered.index(k)] for k in ("sample", "dark", "reference"))
        signal, ref = s - d, r - d
        for arr, label in ((signal, "Sample-Dark"), (ref, "Reference-Dark")):
            if np.any(arr <= 0):
                i = int(np.argmax(arr <= 0))
                raise SpectrumError(
                    f"{label} = {arr[i]:g} <= 0 at {x[i]:g} nm (line {data[i][0]}); cannot form (S-D)/(R-D) - "
                    "crop the export or choose a column with y_column=",
                    source=src,
                )
        if kind == "absorbance":
            y = -np.log10(signal / ref)
        elif kind == "transmittance":
            y = signal / ref
        else:
            y = signal
        metadata["computed"] = {"absorbance": "-log10((S-D)/(R-D))", "transmittance": "(S-D)/(R-D)"}.get(kind, "S-D")
    elif len(names) == 2:
        y = table[:, 1]
    else:
        raise SpectrumError(
            f"columns {', '.join(names)}: choose the value column with y_column= "
            "(Sample/Dark/Reference not all present)",
            source=src,
        )
    return _make_spectrum(
        x, y, kind=kind, src=src, unit=_canonical_unit(wavelength_unit, src=src), metadata=metadata,
        axis_label=names[0], reverse_descending=reverse_descending,
    )


_JCAMP_XUNITS = {"NANOMETERS": "nm", "NM": "nm", "MICROMETERS": "um", "UM": "um", "MICRONS": "um",
                 "1/CM": "cm-1", "CM-1": "cm-1", "CM^-1": "cm-1", "EV": "ev"}


def read_jcamp(
    path: PathType,
    *,
    kind: str = "absorbance",
    wavelength_unit: str | None = None,
    reverse_descending: bool = True,
) -> Spectrum:
    """Read a single-block JCAMP-DX file with the ``jcamp`` package.

    ``##XUNITS`` (NANOMETERS, MICROMETERS, 1/CM) is the file's own declaration of the axis unit; a different
    ``wavelength_unit`` from the caller is an error. ``##YUNITS`` decides what the values are: ABSORBANCE and
    TRANSMITTANCE (a fraction) convert into each other on request (:math:`A = -\\log_{10} T`); COUNTS (or
    ARBITRARY UNITS) is an intensity and cannot become an absorbance. Compound (LINK) files are refused.

    Other parameters are those of :func:`read_csv`.
    """
    import jcamp

    p = Path(path)
    src = str(p)
    text = _read_text(p)
    if "##" not in text:
        raise SpectrumError("no '##' labelled records: not a JCAMP-DX file", source=src)
    _check_jcamp_data_lines(text, src=src)
    try:
        with contextlib.redirect_stdout(_io.StringIO()) as chatter:  # jcamp prints its consistency checks
            d = jcamp.read(text.splitlines(keepends=True))
    except (ValueError, KeyError, TypeError, ZeroDivisionError, IndexError) as exc:
        raise SpectrumError(f"unreadable JCAMP-DX ({type(exc).__name__}: {exc})", source=src) from None
    if chatter.getvalue().strip():
        first = chatter.getvalue().strip().splitlines()[0]
        raise SpectrumError(f"JCAMP-DX consistency check failed: {first}", source=src)
    if d.get("children"):
        raise SpectrumError("compound (LINK) JCAMP-DX file: one spectrum per file, please", source=src)
    x = np.asarray(d.get("x", []), dtype=float)
    y = np.asarray(d.get("y", []), dtype=float)
    if x.size == 0:
        raise SpectrumError("no XYDATA/XYPOINTS data", source=src)
    if x.size != y.size:
        raise SpectrumError(f"{x.size} x values but {y.size} y values (truncated?)", source=src)
    npoints = d.get("npoints")
    if isinstance(npoints, int | float) and int(npoints) != x.size:
        raise SpectrumError(f"##NPOINTS={int(npoints)} but {x.size} points read (truncated?)", source=src)
    xunits = str(d.get("xunits", "")).strip().upper()
    file_unit = _JCAMP_XUNITS.get(xunits) if xunits else None
    if xunits and file_unit is None:
        raise SpectrumError(f"unsupported ##XUNITS={xunits} (NANOMETERS, MICROMETERS or 1/CM)", source=src)
    asked = _canonical_unit(wavelength_unit, src=src)
    if asked is not None and file_unit is not None and asked != file_unit:
        raise SpectrumError(f"##XUNITS={xunits} contradicts wavelength_unit={wavelength_unit!r}", source=src)
    unit = file_unit or asked
    yunits = str(d.get("yunits", "")).strip().upper()
    y = _jcamp_values(y, yunits, kind, src=src)
    metadata: dict[str, Any] = {
        "format": "jcamp",
        **{k: v for k, v in d.items() if k not in ("x", "y", "filename") and isinstance(v, str | int | float)},
    }
    return _make_spectrum(x, y, kind=kind, src=src, unit=unit, metadata=metadata,
                          reverse_descending=reverse_descending)


def _check_jcamp_data_lines(text: str, *, src: str) -> None:
    """``jcamp`` skips (XY..XY) lines it cannot parse; refuse them instead, naming the line."""
    in_xy = False
    for n, line in enumerate(text.splitlines(), start=1):
        s = line.strip()
        if s.startswith("##"):
            label, _, value = s[2:].partition("=")
            in_xy = label.strip().upper() in ("XYPOINTS", "XYDATA", "PEAK TABLE") and "XY..XY" in value.upper()
            continue
        if in_xy and s and not s.startswith("$$"):
            cells = [c for c in re.split(r"[,;\s]+", s) if c]
            for c, cell in enumerate(cells, start=1):
                if cell.lower() in _NONFINITE:
                    raise SpectrumError(f"line {n}, value {c}: NaN or infinite value {cell!r}", source=src)
                if not _FLOAT_RE.match(cell) and cell != "?":
                    raise SpectrumError(f"line {n}, value {c}: {cell!r} is not a number", source=src)
            if len(cells) % 2:
                raise SpectrumError(f"line {n}: odd number of values in an (XY..XY) row (truncated?)", source=src)


def _jcamp_values(y: np.ndarray, yunits: str, kind: str, *, src: str) -> np.ndarray:
    if yunits in ("ABSORBANCE", "ABS"):
        if kind == "absorbance":
            return y
        if kind == "transmittance":
            return 10.0 ** (-y)
    elif yunits in ("TRANSMITTANCE", "TRANSMISSION"):
        if kind == "transmittance":
            return y
        if kind == "absorbance":
            if np.any(y <= 0):
                raise SpectrumError("transmittance <= 0: cannot take -log10", source=src)
            if np.max(y) > 1.5:
                raise SpectrumError(
                    f"transmittance up to {np.max(y):g} looks like percent; JCAMP TRANSMITTANCE is a fraction",
                    source=src,
                )
            return -np.log10(y)
    elif yunits in ("COUNTS", "ARBITRARY UNITS", "INTENSITY", "RELATIVE INTENSITY", "EMISSION", ""):
        if kind == "intensity" or (yunits == "" and kind in SPECTRUM_KINDS):
            return y
    else:
        raise SpectrumError(f"unsupported ##YUNITS={yunits}", source=src)
    raise SpectrumError(f"##YUNITS={yunits} cannot be read as kind={kind!r}", source=src)


Reader = Callable[..., Spectrum]
#: Format name -> reader; each takes ``(path, *, kind, wavelength_unit, ...)`` and returns a :class:`Spectrum`.
READERS: Mapping[str, Reader] = {
    "csv": read_csv,
    "jcamp": read_jcamp,
    "oceanview": read_oceanview,
    "avantes": read_avantes,
}


def _detect_format(path: Path) -> str:
    """Extension first (``.jdx``/``.dx``/``.jcamp`` -> JCAMP), then content sniffing, else CSV."""
    ext = path.suffix.lower()
    if ext in (".jdx", ".dx", ".jcamp", ".jcm"):
        return "jcamp"
    try:
        with path.open("rb") as fh:
            head = fh.read(8192).decode("utf-8", "replace")
    except OSError:
        return "csv"  # let the reader produce the error message
    if head.lstrip("\ufeff").lstrip().startswith("##TITLE") or "##JCAMP-DX" in head.upper():
        return "jcamp"
    if ">>>>>Begin" in head or "OceanView" in head or "SpectraSuite" in head:
        return "oceanview"
    if re.search(r"^\s*wave\s*;", head, flags=re.IGNORECASE | re.MULTILINE):
        return "avantes"
    return "csv"


def read_spectrum(
    path: PathType,
    *,
    kind: str = "absorbance",
    wavelength_unit: str | None = None,
    format: str = "auto",
    **kwargs: Any,
) -> Spectrum:
    """Read one spectrum from a file, dispatching on :data:`READERS`.

    Parameters
    ----------
    path : str or path-like
        The file.
    kind : {"absorbance", "intensity", "transmittance"}
        What the values are (for JCAMP the file's ``##YUNITS`` must agree or be convertible).
    wavelength_unit : {None, "nm", "um", "ev", "cm-1"}
        Declared x-axis unit. ``None``: nm, or the file's own declaration (JCAMP ``##XUNITS``).
    format : {"auto", "csv", "jcamp", "oceanview", "avantes"}
        ``"auto"`` uses the extension, then the content.
    **kwargs
        Passed to the reader (``x_column``, ``y_column``, ``delimiter``, ``decimal``, ``reverse_descending``).

    Returns
    -------
    Spectrum
        Wavelength in nm, strictly increasing; ``source`` is the file name.

    Raises
    ------
    SpectrumError
        Message starting with the file name.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "a.csv"
    >>> _ = f.write_text("wavelength_nm,A\\n" + "".join(f"{400 + 10 * i},{0.1 * i}\\n" for i in range(10)))
    >>> s = read_spectrum(f)
    >>> s.n_points, float(s.wavelength_nm[-1]), float(s.values[1])
    (10, 490.0, 0.1)
    """
    p = Path(path)
    fmt = _detect_format(p) if format == "auto" else format
    if fmt not in READERS:
        raise SpectrumError(f"unknown format {format!r} (use one of auto, {', '.join(READERS)})", source=str(p))
    reader = READERS[fmt]
    unknown = set(kwargs) - set(inspect.signature(reader).parameters)
    if unknown:
        raise SpectrumError(f"the {fmt} reader takes no option {', '.join(sorted(unknown))}", source=str(p))
    try:
        return reader(p, kind=kind, wavelength_unit=wavelength_unit, **kwargs)
    except FlowqdError as exc:
        raise exc.with_source(str(p)) from None


def read_spectra(
    paths: PathType | Iterable[PathType],
    *,
    kind: str = "absorbance",
    wavelength_unit: str | None = None,
    format: str = "auto",
    column: int | str | None = None,
    **kwargs: Any,
) -> list[Spectrum]:
    """Read every spectrum of one file or of several files: one :class:`Spectrum` per value column.

    A delimited file with one wavelength column and several value columns (a time series exported by lab
    software), or with (wavelength, value) pairs per sample (Agilent Cary), gives one spectrum per column; each
    carries its column label in ``metadata['label']`` and in ``source`` (``"file [label]"``). ``column`` (a label,
    a unique label prefix, or a 0-based spectrum index) picks one. Other formats hold one spectrum per file.
    The first bad file or column raises (naming it); nothing is partial.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "series.csv"
    >>> rows = "".join(f"{600 - 10 * i},{0.01 * i},{0.02 * i}\\n" for i in range(10))
    >>> _ = f.write_text("Wavelength (nm),30 s,60 s\\n" + rows)
    >>> [s.metadata["label"] for s in read_spectra(f)], float(read_spectra(f, column="60 s")[0].values[0])
    (['30 s', '60 s'], 0.18)
    """
    if isinstance(paths, str | PathLike):
        paths = [paths]
    out: list[Spectrum] = []
    for path in paths:
        p = Path(path)
        fmt = _detect_format(p) if format == "auto" else format
        if fmt != "csv" or "y_column" in kwargs:
            if column is not None and fmt != "csv":
                raise SpectrumError(f"--column needs a table with several spectra; a {fmt} file holds one",
                                    source=str(p))
            y = kwargs.pop("y_column", None)
            extra = {"y_column": y} if y is not None else {}
            out.append(read_spectrum(p, kind=kind, wavelength_unit=wavelength_unit, format=fmt, **kwargs, **extra))
            continue
        unknown = set(kwargs) - {"delimiter", "decimal", "reverse_descending"}
        if unknown:
            raise SpectrumError(f"the csv reader takes no option {', '.join(sorted(unknown))}", source=str(p))
        try:
            table = read_table(p, delimiter=kwargs.get("delimiter", "auto"), decimal=kwargs.get("decimal", "."))
            unit = _table_unit(table, wavelength_unit)
            rev = bool(kwargs.get("reverse_descending", True))
            picks = range(table.n_spectra)
            if column is not None:
                picks = [_column_index(column, list(table.labels), table.n_spectra, src=str(p), role="spectrum")]
            many = table.n_spectra > 1
            out.extend(table.spectrum(k, kind=kind, unit=unit, reverse_descending=rev, labelled=many)
                       for k in picks)
        except FlowqdError as exc:
            raise exc.with_source(str(p)) from None
    return out


def _table_unit(table: Table, wavelength_unit: str | None) -> str | None:
    """The declared x unit: the caller's, or a vendor header's ``XUNITS`` (JASCO); contradictions are errors."""
    asked = _canonical_unit(wavelength_unit, src=table.source)
    xunits = str(table.metadata.get("XUNITS", "")).strip().upper()
    file_unit = _JCAMP_XUNITS.get(xunits) if xunits else None
    if asked is not None and file_unit is not None and asked != file_unit:
        raise SpectrumError(f"XUNITS={xunits} contradicts wavelength unit {wavelength_unit!r}", source=table.source)
    return asked or file_unit


# ---------------------------------------------------------------------------------------------------------------
# Writers
# ---------------------------------------------------------------------------------------------------------------


def write_spectrum_csv(spectrum: Spectrum, path: PathType) -> Path:
    """Write ``wavelength_nm,<kind>`` CSV with a ``#`` comment naming the source; round-trips through :func:`read_csv`.

    Values are written with 10 significant digits.
    """
    p = Path(path)
    lines = [f"# flowqd spectrum; kind={spectrum.kind}; source={spectrum.source or 'unknown'}"]
    quantity = spectrum.metadata.get("quantity")
    if quantity:
        lines.append(f"# quantity={quantity}")
    lines.append(f"wavelength_nm,{spectrum.kind}")
    lines += [f"{x:.10g},{y:.10g}" for x, y in zip(spectrum.wavelength_nm, spectrum.values, strict=True)]
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


_JCAMP_YUNITS = {"absorbance": "ABSORBANCE", "transmittance": "TRANSMITTANCE", "intensity": "COUNTS"}
_JCAMP_DATATYPE = {"absorbance": "UV/VIS SPECTRUM", "transmittance": "UV/VIS SPECTRUM",
                   "intensity": "EMISSION SPECTRUM"}


def write_jcamp(spectrum: Spectrum, path: PathType, title: str | None = None, *, origin: str = "flowqd",
                owner: str = "") -> Path:
    """Write a JCAMP-DX 5.01 file with ``##XYPOINTS=(XY..XY)`` (one AFFN ``x, y`` pair per line).

    ``##TITLE`` is the first record, as the standard requires; ``XFACTOR = YFACTOR = 1`` and values carry 10
    significant digits, so a round trip through ``jcamp.read`` is exact to 1e-9 relative. The (XY..XY) form is
    used rather than (X++(Y..Y)) because spectrometer pixel grids are not uniform.

    Examples
    --------
    >>> import tempfile, pathlib, jcamp
    >>> s = Spectrum(np.arange(400.0, 480.0, 10.0), np.linspace(0.5, 0.1, 8))
    >>> f = write_jcamp(s, pathlib.Path(tempfile.mkdtemp()) / "s.jdx", title="test")
    >>> d = jcamp.readfile(str(f))
    >>> d["xunits"], bool(np.allclose(d["y"], s.values))
    ('NANOMETERS', True)
    """
    p = Path(path)
    title = title or (Path(spectrum.source).stem if spectrum.source else "flowqd spectrum")
    if "\n" in title:
        raise SpectrumError("JCAMP title must be one line", source=str(p))
    x, y = spectrum.wavelength_nm, spectrum.values
    records = [
        f"##TITLE={title}",
        "##JCAMP-DX=5.01",
        f"##DATA TYPE={_JCAMP_DATATYPE[spectrum.kind]}",
        f"##ORIGIN={origin}",
        f"##OWNER={owner}",
        "##XUNITS=NANOMETERS",
        f"##YUNITS={_JCAMP_YUNITS[spectrum.kind]}",
        "##XFACTOR=1",
        "##YFACTOR=1",
        f"##FIRSTX={x[0]:.10g}",
        f"##LASTX={x[-1]:.10g}",
        f"##FIRSTY={y[0]:.10g}",
        f"##MINY={np.min(y):.10g}",
        f"##MAXY={np.max(y):.10g}",
        f"##NPOINTS={x.size}",
        "##XYPOINTS=(XY..XY)",
    ]
    records += [f"{a:.10g}, {b:.10g}" for a, b in zip(x, y, strict=True)]
    records.append("##END=")
    p.write_text("\n".join(records) + "\n", encoding="ascii", errors="replace")
    return p
