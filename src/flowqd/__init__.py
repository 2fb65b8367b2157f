"""flowqd: software for a continuous-flow InP / InP-ZnS quantum-dot synthesis platform.

The package is laid out by physical law, with data flowing one way::

    materials -> reactor -> analysis / kinetics -> twin -> devices / store -> platform -> report -> cli

See ``docs/design.md`` for the layout, the data flow and each model's equations with sources.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
