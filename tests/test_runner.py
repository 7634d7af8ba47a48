"""helpers.runner: notebooks found in order and executed into a run folder."""

from __future__ import annotations

import nbformat
import pytest

from helpers import config, runner


def _notebook(path, code):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# demo"), nbformat.v4.new_code_cell(code)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def test_numbered_notebooks_order_and_filter(tmp_path):
    for name in ("02_b.ipynb", "01_a.ipynb", "notes.ipynb", "10_c.ipynb"):
        _notebook(tmp_path / name, "1")
    assert [p.name for p in runner.numbered_notebooks(tmp_path)] == ["01_a.ipynb", "02_b.ipynb",
                                                                     "10_c.ipynb"]
    assert [p.name for p in runner.numbered_notebooks(tmp_path, ["10"])] == ["10_c.ipynb"]
    with pytest.raises(ValueError, match="no notebook numbered"):
        runner.numbered_notebooks(tmp_path, ["07"])
    with pytest.raises(FileNotFoundError):
        runner.numbered_notebooks(tmp_path / "nothing")


def test_the_project_notebooks_are_numbered_in_sequence():
    numbers = [int(p.name[:2]) for p in runner.numbered_notebooks()]
    assert numbers == list(range(1, len(numbers) + 1))


def test_execute_notebook_writes_the_executed_copy_and_passes_the_run_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(config.ENV_RUN_DIR, str(tmp_path / "run"))
    source = _notebook(tmp_path / "01_demo.ipynb",
                       "from helpers import config\nprint(config.run_dir().name, 6 * 7)")
    target = tmp_path / "run" / "01_demo.ipynb"
    runner.execute_notebook(source, target, timeout=120)
    out = nbformat.read(target, as_version=4).cells[1].outputs[0]
    assert out["text"].split() == ["run", "42"]
    assert nbformat.read(source, as_version=4).cells[1].outputs == []  # source untouched


def test_execute_notebook_keeps_the_partial_notebook_on_error(tmp_path):
    source = _notebook(tmp_path / "01_bad.ipynb", "raise RuntimeError('boom')")
    target = tmp_path / "out" / "01_bad.ipynb"
    with pytest.raises(Exception, match="boom"):
        runner.execute_notebook(source, target, timeout=120)
    assert target.is_file()


def test_epochs_done_counts_history_rows(tmp_path):
    from helpers.runner import epochs_done

    (tmp_path / "phase1_adam").mkdir()
    (tmp_path / "phase1_adam" / "history.csv").write_text("epoch,loss\n1,0.5\n2,0.4\n")
    (tmp_path / "phase2").mkdir()
    (tmp_path / "phase2" / "history.csv").write_text("epoch,loss\n")
    (tmp_path / "figures").mkdir()
    (tmp_path / "history.csv").write_text("epoch,loss\n1,0.5\n")  # both phases combined: not a folder
    (tmp_path / "07_chosen" / "phase1").mkdir(parents=True)
    (tmp_path / "07_chosen" / "phase1" / "history.csv").write_text("epoch,loss\n1,0.5\n")
    assert epochs_done(tmp_path) == {"phase1_adam": 2, "phase2": 0, "07_chosen/phase1": 1}
    assert epochs_done(tmp_path / "missing") == {}


def test_main_says_what_to_set_when_there_is_no_data(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CELEB_DATA_DIR", str(tmp_path / "no_such_folder"))
    monkeypatch.setenv(config.ENV_RUN_DIR, str(tmp_path / "run"))  # main sets it: restored after the test
    monkeypatch.setattr(runner, "execute_notebook", lambda *args: pytest.fail("a notebook was started"))
    assert runner.main(["--run-dir", str(tmp_path / "run"), "--only", "01"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "no_such_folder" in err
