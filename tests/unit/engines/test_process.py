"""Running an engine in the caller's process: a scoped environment and a cheap exit."""

from __future__ import annotations

import atexit
import os
import subprocess
import sys

import pytest

from airflow_provider_dualengine.engines.process import freeze_heap_at_exit, temporary_environ


def test_environment_is_scoped_to_the_block(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUALENGINE_T_KEPT", "before")
    monkeypatch.delenv("DUALENGINE_T_NEW", raising=False)
    with pytest.raises(RuntimeError), temporary_environ({"DUALENGINE_T_KEPT": "inside", "DUALENGINE_T_NEW": 3}):
        assert (os.environ["DUALENGINE_T_KEPT"], os.environ["DUALENGINE_T_NEW"]) == ("inside", "3")
        raise RuntimeError("an engine failed")
    assert os.environ["DUALENGINE_T_KEPT"] == "before" and "DUALENGINE_T_NEW" not in os.environ


def test_the_exit_hook_is_registered_once() -> None:
    freeze_heap_at_exit()
    registered = atexit._ncallbacks()
    freeze_heap_at_exit()
    assert atexit._ncallbacks() == registered


def test_the_heap_is_frozen_when_the_process_exits() -> None:
    code = (
        "import atexit, gc\n"
        "from airflow_provider_dualengine.engines.process import freeze_heap_at_exit\n"
        "atexit.register(lambda: print('frozen objects at exit:', gc.get_freeze_count() > 0))\n"
        "freeze_heap_at_exit()\n"  # registered later, runs first (atexit is last in, first out)
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "frozen objects at exit: True"
