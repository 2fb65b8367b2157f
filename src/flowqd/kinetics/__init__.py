"""Population-balance kinetics of InP (aminophosphine route, heat-up) and the ZnS shell.

One module per law: :mod:`.precursor` (Arrhenius precursor → monomer), :mod:`.nucleation` (CNT with a
temperature-dependent solubility), :mod:`.growth` (size-dependent growth/dissolution with full Gibbs–Thomson),
:mod:`.pbe` (batched, conservative finite-volume PBE on numpy or JAX), :mod:`.shell` (ZnS shell and its optics).
"""

from flowqd.kinetics.pbe import BatchResult, KineticParameters, SizeGrid, heatup_history_k, integrate, time_grid_s
from flowqd.kinetics.shell import ShellParameters

__all__ = ["BatchResult", "KineticParameters", "ShellParameters", "SizeGrid", "heatup_history_k", "integrate",
           "time_grid_s"]
