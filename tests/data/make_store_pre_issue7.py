"""How tests/data/store-pre-issue7.sqlite was made: run with flowqd before issue 7 (main at 0ac1c52), whose store
filled the scalar columns from payload aliases (``rsd_percent``, ``chromaticity_xy``, nested levels)::

    python tests/data/make_store_pre_issue7.py tests/data/store-pre-issue7.sqlite

(then delete the ``-reserve`` ballast file beside it). Today's store stores these payloads with NULL scalars.
"""

import sys

import numpy as np

from flowqd.store import Store


def main(path: str) -> None:
    with Store(f"sqlite:///{path}") as s:
        rid = s.create_run("pre-issue-7", platform_toml="", campaign_toml="", host="h", flowqd_version="0.old")
        cid = s.add_condition(rid, 0, core_temperature_c=200.0, core_flow_ml_min=0.1, residence_time_s=600.0)
        wl = np.linspace(400.0, 800.0, 9)
        a = s.add_spectrum(rid, 0, condition_id=cid, kind="absorbance", wavelength_nm=wl,
                           processed=np.linspace(1, 0, 9))
        s.add_analysis(a, "psd", {"exciton": {"wavelength_nm": 561.5}, "psd": {"x13_nm": 3.1, "rsd_percent": 9.0,
                       "diameter_nm": [2.0, 3.0, 4.0], "q3": [0.1, 1.0, 0.1]}, "conversion_percent": 70.0})
        p = s.add_spectrum(rid, 1, condition_id=cid, kind="pl", wavelength_nm=wl, processed=np.ones(9))
        s.add_analysis(p, "pl", {"emission_peak_nm": 607.0, "pl_fwhm_nm": 90.0, "plqy_percent": 30.9,
                                 "chromaticity_xy": [0.553, 0.441], "emission_band_nm": [450.0, 850.0]})
        s.finish_condition(cid)
        s.finish_run(rid)


if __name__ == "__main__":
    main(sys.argv[1])
