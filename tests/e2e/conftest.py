"""Fixtures shared by the end-to-end tests: local stand-ins of the mainland SMS APIs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.mainland_standins import AliyunStandIn, TencentStandIn, TencentVoiceStandIn


@pytest.fixture
def aliyun() -> Iterator[AliyunStandIn]:
    standin = AliyunStandIn()
    yield standin
    standin.close()


@pytest.fixture
def tencent() -> Iterator[TencentStandIn]:
    standin = TencentStandIn()
    yield standin
    standin.close()


@pytest.fixture
def tencent_voice() -> Iterator[TencentVoiceStandIn]:
    standin = TencentVoiceStandIn()
    yield standin
    standin.close()
