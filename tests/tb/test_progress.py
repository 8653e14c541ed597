"""The co-simulation progress line (tb/cosim/progress.py)."""
import time

from tb.cosim.progress import progress_printer


def test_progress_printer_prints_each_new_count_once(tmp_path, capsys):
    prog = tmp_path / "progress.txt"
    with progress_printer(prog, period=0.01):
        for done in (1, 1, 2):
            prog.write_text(f"{done} 5")
            time.sleep(0.1)
    err = capsys.readouterr().err
    assert err.count("cosim: 1/5 samples") == 1 and err.count("cosim: 2/5 samples") == 1
    assert err.endswith("\n")


def test_progress_printer_disabled_or_without_file_prints_nothing(tmp_path, capsys):
    with progress_printer(tmp_path / "p.txt", enabled=False, period=0.01):
        (tmp_path / "p.txt").write_text("1 5")
        time.sleep(0.05)
    with progress_printer(tmp_path / "missing.txt", period=0.01):
        time.sleep(0.05)
    assert capsys.readouterr().err == ""
