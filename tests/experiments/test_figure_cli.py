"""`pass-twin figure`: a progress bar per sweep point, and `all` keeps what is done."""

from pathlib import Path

from twin.cli import main
from twin.experiments import figures


def test_figure_all_keeps_figures_already_written(tmp_path, capsys, monkeypatch):
    names = list(figures.available())
    for n in names:                            # pretend every figure but one is done
        if n != "paper002-power":
            (tmp_path / f"{n}.csv").write_text("x\n")
            (tmp_path / f"{n}.png").write_bytes(b"png")
    calls = []
    real = figures.run_figure

    def spy(name, out, **kw):
        calls.append((name, kw.get("progress")))
        return real(name, out, **kw)

    monkeypatch.setattr(figures, "run_figure", spy)
    assert main(["figure", "all", "--quick", "--out", str(tmp_path)]) == 0
    assert calls == [("paper002-power", True)]
    assert Path(tmp_path / "paper002-power.png").stat().st_size > 10_000
    err = capsys.readouterr().err
    assert f"[{names.index('paper002-power') + 1}/{len(names)}] paper002-power:" in err
    assert "already in" in err
