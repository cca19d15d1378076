"""The delivery-report receiver never answers 5xx to a request, whatever it carries."""

from __future__ import annotations

import uuid
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr
from starlette.testclient import TestClient

from smsq.config.status_settings import WebhookSettings
from smsq.workers.status.followup import callback_path
from smsq.workers.webhooks.app import create_webhook_app

SECRET = "0123456789abcdef-secret"
MESSAGE_ID = str(uuid.uuid4())
QUEUED: list[Any] = []
APP = create_webhook_app(
    WebhookSettings(public_base_url="https://smsq.example", secret=SecretStr(SECRET),
                    messente_signature_key=SecretStr("key")),
    QUEUED.append,
)  # fmt: skip
CLIENT = TestClient(APP, raise_server_exceptions=False)
SEGMENT = st.one_of(
    st.text(st.characters(blacklist_categories=["Cs"]), max_size=20),
    st.sampled_from(["%C3%A9", "%ff", "%00", "..", "", MESSAGE_ID, "messente", "smsapi", "direct_messenger"]),
)
BODIES = st.one_of(
    st.binary(max_size=200),
    st.sampled_from([b"[" * 10_000, b"{}", b'{"omnimessage_id": "o", "channel": "sms", "status": "DELIVRD"}',
                     b"status=403&MsgId=1,2,3&idx=a", b"--x\r\n", b"%ff=%ff"]),
)  # fmt: skip


@st.composite
def request(draw: st.DrawFn) -> tuple[str, str, dict[str, str], bytes]:
    provider = draw(st.sampled_from(["messente", "smsapi", "direct_messenger", "other"]))
    if draw(st.booleans()):
        path = callback_path(SECRET, provider, MESSAGE_ID)  # authentic: the parsers are reached
    else:
        path = "/dlr/" + "/".join(draw(st.lists(SEGMENT, min_size=1, max_size=4)))
    query = draw(
        st.sampled_from(["", "?dlr=1&id=x", "?status=403&MsgId=a,b", "?%ff=%fe", "?dlr=" + "9" * 5000])
    )
    headers = draw(st.dictionaries(
        st.sampled_from(["content-type", "x-messente-signature", "content-length"]),
        st.sampled_from(["application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                         "application/json", "\u00e9\u00e9", "-1", "99999999999", "abc"]),
    ))  # fmt: skip
    method = draw(st.sampled_from(["GET", "POST", "PUT"]))
    return method, path + query, headers, draw(BODIES)


@given(req=request())
def test_no_request_gets_a_5xx(req: tuple[str, str, dict[str, str], bytes]) -> None:
    method, url, headers, body = req
    encoded = {name: value.encode("utf-8") for name, value in headers.items()}
    try:
        answer = CLIENT.request(method, url, headers=encoded, content=body)  # type: ignore[arg-type]
    except Exception as error:  # the test client refused to send it (e.g. a bad Content-Length)
        assert type(error).__module__.startswith(("httpx", "h11", "anyio", "starlette")), repr(error)
        return
    assert answer.status_code < 500, (method, url, headers, body[:100], answer.text[:200])
