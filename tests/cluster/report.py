"""Test output that must reach the terminal (timings, and on failure the components' logs)."""

from __future__ import annotations

from collections.abc import Callable

import pytest


def terminal_writer(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """Write to the terminal even while pytest captures output."""
    terminal = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")

    def write(text: str) -> None:
        if terminal is None or capture is None:
            print(text)
            return
        with capture.global_and_fixture_disabled():
            terminal.write_line(text)

    return write
