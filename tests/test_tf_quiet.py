"""helpers.tf_quiet: importing TensorFlow through helpers prints nothing on stderr."""

from __future__ import annotations

import subprocess
import sys


def test_import_tensorflow_is_silent():
    code = ("from helpers.tf_quiet import import_tensorflow, import_keras\n"
            "tf = import_tensorflow(); keras = import_keras()\n"
            "print(int(tf.reduce_sum(tf.ones((2, 2)))), keras.__version__[0])\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["4", "3"]
    assert done.stderr == ""


def test_import_tensorflow_lets_python_stderr_through_afterwards(capfd):
    from helpers.tf_quiet import import_tensorflow

    import_tensorflow()
    print("after", file=sys.stderr)
    assert "after" in capfd.readouterr().err
