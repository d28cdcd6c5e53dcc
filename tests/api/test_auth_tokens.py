"""Bearer tokens: verified once by PyJWT, then trusted only until they expire."""

from __future__ import annotations

import time

import jwt
import pytest

from reference_impl.domain.errors import Unauthorized
from reference_impl.http import auth

SECRET = "a-secret-of-at-least-32-bytes-for-hs256!"


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The tokens PyJWT was asked to verify."""
    calls: list[str] = []
    real = jwt.decode

    def counting(token: str, *args: object, **kwargs: object) -> object:
        calls.append(token)
        return real(token, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(jwt, "decode", counting)
    auth._verified.cache_clear()
    return calls


def test_a_token_is_verified_once_for_many_requests(decodes: list[str]) -> None:
    token = auth.issue_token(SECRET, "alice")
    for _ in range(3):
        assert auth.user_from_header(SECRET, f"Bearer {token}") == "alice"
    assert decodes == [token]


def test_a_verified_token_is_refused_once_it_expires(
    decodes: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    now = time.time()
    token = auth.issue_token(SECRET, "alice", ttl=60, now=now)
    assert auth.user_from_header(SECRET, f"Bearer {token}") == "alice"
    monkeypatch.setattr(time, "time", lambda: now + 61)
    with pytest.raises(Unauthorized, match="expired"):
        auth.user_from_header(SECRET, f"Bearer {token}")


def test_a_token_verified_under_one_secret_is_not_trusted_under_another(
    decodes: list[str],
) -> None:
    token = auth.issue_token(SECRET, "alice")
    assert auth.user_from_header(SECRET, f"Bearer {token}") == "alice"
    with pytest.raises(Unauthorized, match="invalid token"):
        auth.user_from_header("another-secret-of-at-least-32-bytes!!", f"Bearer {token}")


def test_a_refused_token_is_checked_again_each_time(decodes: list[str]) -> None:
    forged = jwt.encode({"sub": "alice", "exp": int(time.time()) + 60},
                        "not-the-secret-but-32-bytes-long-too", algorithm="HS256")
    for _ in range(2):
        with pytest.raises(Unauthorized, match="invalid token"):
            auth.user_from_header(SECRET, f"Bearer {forged}")
    assert decodes == [forged, forged]
