from helpers.progress import progress_bar


def test_a_disabled_bar_still_iterates_and_prints_nothing(capsys):
    assert list(progress_bar(range(3), enabled=False, desc="x")) == [0, 1, 2]
    with progress_bar(total=3, enabled=False) as bar:  # a manual bar, as training uses it
        bar.update(3)
    assert capsys.readouterr().err == ""


def test_an_enabled_bar_shows_its_description(capsys):
    assert list(progress_bar(range(2), desc="faces", unit="image", mininterval=10.0)) == [0, 1]
    assert "faces" in capsys.readouterr().err
