"""`client_address`: the caller's address on the stream listener, as uvicorn's proxy headers give it."""

from __future__ import annotations

from api.stream_listener import client_address

PEER = ("10.0.0.5", 51234)


def test_without_a_trusted_proxy_the_peer_is_the_client_whatever_it_claims() -> None:
    assert client_address(PEER, "203.0.113.7", "127.0.0.1") == PEER
    assert client_address(None, "203.0.113.7", "*") is None


def test_from_a_trusted_proxy_the_nearest_untrusted_hop_is_the_client() -> None:
    proxy = ("127.0.0.1", 40000)
    assert client_address(proxy, "203.0.113.7", "127.0.0.1") == ("203.0.113.7", 0)
    assert client_address(proxy, "198.51.100.1, 203.0.113.7, 127.0.0.1", "127.0.0.1") == ("203.0.113.7", 0)
    assert client_address(proxy, "", "127.0.0.1") == proxy
    assert client_address(proxy, " , ", "127.0.0.1") == proxy


def test_every_proxy_trusted_takes_the_first_hop() -> None:
    assert client_address(PEER, "198.51.100.1, 203.0.113.7", "*") == ("198.51.100.1", 0)
