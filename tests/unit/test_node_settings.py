"""NODE_ID and NODE_INTERNAL_URL: a node's name (the host name unless set) and its direct base URL."""

from __future__ import annotations

import socket

import pytest
from pydantic import ValidationError

from tests.stack import make_settings


def test_node_id_defaults_to_the_host_name() -> None:
    assert make_settings().node_id == socket.gethostname()
    assert make_settings(node_id="voice-1.eu").node_id == "voice-1.eu"


@pytest.mark.parametrize("bad", ["", "-leading-dash", "has space", "a/b", "x" * 64])
def test_a_node_id_that_is_not_a_plain_name_is_refused(bad: str) -> None:
    with pytest.raises(ValidationError, match="node_id"):
        make_settings(node_id=bad)


def test_node_internal_url_is_an_origin() -> None:
    assert make_settings().node_internal_url is None
    assert make_settings(node_internal_url="http://10.0.0.11:8000/").node_internal_url == "http://10.0.0.11:8000"


@pytest.mark.parametrize("bad", ["10.0.0.11:8000", "ftp://10.0.0.11", "http://", "http://10.0.0.11:8000/api"])
def test_a_node_internal_url_that_is_not_an_origin_is_refused(bad: str) -> None:
    with pytest.raises(ValidationError, match="node_internal_url"):
        make_settings(node_internal_url=bad)
