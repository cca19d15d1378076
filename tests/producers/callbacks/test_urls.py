"""Callback URL checks (server-side request forgery): every refusal names what is wrong; the
settings open http and private targets, never multicast, unspecified or reserved ones."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from smsq.config.callback_settings import CallbackSettings
from smsq.producers.callbacks.urls import check_address, check_callback_url, resolve
from smsq.producers.errors import InvalidInput, UnsafeCallbackUrl

STRICT = CallbackSettings()
OPEN = CallbackSettings(allow_http=True, allow_private=True)


def resolver(*addresses: str):  # type: ignore[no-untyped-def]
    def answer(host: str, port: int) -> Sequence[str]:
        return addresses

    return answer


PUBLIC = resolver("93.184.215.14")


@pytest.mark.parametrize(
    ("url", "answers", "reason"),
    [
        (
            "http://app.example/h",
            ("93.184.215.14",),
            "must use https (scheme: http); SMSQ_CALLBACKS__ALLOW_HTTP=true allows http",
        ),
        ("ftp://app.example/h", ("93.184.215.14",), "must use https (scheme: ftp)"),
        ("app.example/h", ("93.184.215.14",), "must use https (scheme: none)"),
        ("", (), "is empty"),
        ("https://app.example/a b", (), "contains spaces or control characters"),
        ("https://user:pw@app.example/h", (), "must not carry a user name or password"),
        ("https:///h", (), "has no host"),
        ("https://app.example:99999/h", (), "is not a valid URL (Port out of range 0-65535)"),
        ("https://app.example/h#x", (), "must not have a #fragment"),
        ("https://" + "a" * 2100 + ".example/", (), "is longer than 2048 characters"),
        (
            "https://127.0.0.1/h",
            (),
            "127.0.0.1, a loopback address; SMSQ_CALLBACKS__ALLOW_PRIVATE=true allows it",
        ),
        ("https://[::1]/h", (), "::1, a loopback address"),
        ("https://[::ffff:127.0.0.1]/h", (), "127.0.0.1, a loopback address"),
        ("https://10.1.2.3/h", (), "10.1.2.3, a private address"),
        ("https://192.168.0.10/h", (), "192.168.0.10, a private address"),
        ("https://172.16.5.5/h", (), "172.16.5.5, a private address"),
        ("https://[fd00::1]/h", (), "fd00::1, a private address"),
        ("https://169.254.169.254/latest/meta-data", (), "169.254.169.254, a link-local address"),
        ("https://[fe80::1]/h", (), "fe80::1, a link-local address"),
        ("https://100.64.0.1/h", (), "100.64.0.1, a non-public (shared or special-purpose) address"),
        ("https://224.0.0.1/h", (), "224.0.0.1, a multicast address"),
        ("https://0.0.0.0/h", (), "0.0.0.0, an unspecified address"),
        ("https://240.0.0.1/h", (), "240.0.0.1, a reserved address"),
        (
            "https://app.example/h",
            ("93.184.215.14", "10.0.0.7"),
            "its host 'app.example' resolves to 10.0.0.7, a private address",
        ),
        ("https://app.example/h", (), "its host 'app.example' resolves to no address"),
    ],
)
def test_each_refusal_names_what_is_wrong(url: str, answers: tuple[str, ...], reason: str) -> None:
    with pytest.raises(UnsafeCallbackUrl) as refused:
        check_callback_url(url, STRICT, resolver=resolver(*answers))
    assert reason in refused.value.reason
    assert isinstance(refused.value, InvalidInput)
    assert refused.value.problems[0][0] == "callback_url"


def test_a_host_that_does_not_resolve_is_named() -> None:
    def fails(host: str, port: int) -> Sequence[str]:
        raise OSError("Name or service not known")

    with pytest.raises(UnsafeCallbackUrl, match=r"host 'nowhere.invalid' does not resolve \(Name or service"):
        check_callback_url("https://nowhere.invalid/h", STRICT, resolver=fails)


def test_a_decimal_ip_host_is_checked_by_what_it_resolves_to() -> None:
    # glibc reads http://2130706433/ as 127.0.0.1: the check goes by the resolved address, not the text.
    with pytest.raises(UnsafeCallbackUrl, match=r"resolves to 127\.0\.0\.1, a loopback address"):
        check_callback_url("https://2130706433/h", STRICT)


def test_a_public_https_url_passes() -> None:
    assert (
        check_callback_url("https://app.example/h?x=1", STRICT, resolver=PUBLIC)
        == "https://app.example/h?x=1"
    )


def test_the_settings_allow_http_and_private_targets_but_never_multicast() -> None:
    assert check_callback_url("http://127.0.0.1:8080/h", OPEN)
    assert check_callback_url("http://10.0.0.1/h", OPEN)
    assert check_callback_url("https://169.254.1.1/h", OPEN)
    for never in ("224.0.0.1", "0.0.0.0", "240.0.0.1", "ff02::1"):
        with pytest.raises(UnsafeCallbackUrl):
            check_address(never, OPEN)


def test_the_real_resolver_answers_addresses() -> None:
    assert "127.0.0.1" in resolve("localhost", 80)
