"""The servers' event loop choice (runtime.event_loop) and its validation in the configs."""

from __future__ import annotations

import asyncio

import pytest
import uvloop

from consortium.config import HubConfig
from runtime.config import ConfigError
from runtime.event_loop import resolve, run


async def _loop_type() -> type:
    return type(asyncio.get_running_loop())


def test_auto_is_uvloop_when_installed_and_each_name_runs_its_loop() -> None:
    assert resolve("auto") == "uvloop"
    assert run(_loop_type()) is uvloop.Loop
    assert run(_loop_type(), "uvloop") is uvloop.Loop
    assert run(_loop_type(), "asyncio") is not uvloop.Loop


def test_an_unknown_loop_is_a_config_error() -> None:
    with pytest.raises(ValueError, match="auto, uvloop, asyncio"):
        resolve("trio")
    with pytest.raises(ConfigError, match="hub: event_loop must be one of"):
        HubConfig(plaintext=True, event_loop="gevent")
    assert HubConfig(plaintext=True, event_loop="asyncio").event_loop == "asyncio"


def test_uvloop_missing_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("runtime.event_loop.uvloop_available", lambda: False)
    assert resolve("auto") == "asyncio"
    with pytest.raises(ValueError, match="not installed"):
        resolve("uvloop")
