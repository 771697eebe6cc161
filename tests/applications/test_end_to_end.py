"""End to end on the bundled real mesh: the trained IsingSubsampler beats every baseline."""

import io

from skising.__main__ import demo, main


def test_trained_subsampler_beats_every_baseline_on_real_mesh():
    out = io.StringIO()
    rows = demo(epochs=120, fraction=0.2, seed=0, n_eval=8, out=out)
    by = {r["method"].split(" ")[0]: r for r in rows}
    learned = by["ISING+MAG"]
    for name, r in by.items():
        if name != "ISING+MAG":
            assert learned["loss"] < r["loss"], (name, learned, r)
        assert abs(r["kept"] - 0.2) <= 0.05, (name, r)
    assert "ISING+MAG" in out.getvalue()


def test_cli_rejects_bad_arguments(capsys):
    import pytest

    with pytest.raises(SystemExit):
        main(["demo", "--fraction", "1.5"])
    assert "fraction" in capsys.readouterr().err
    assert main([]) == 2
