"""Ringing calls as the telephony integration posts them: signed, through the CTI webhook."""

import json
from typing import Any

from rest_framework.test import APIClient

from tests.signing import signed_headers

CTI_URL = "/api/cti/call-events/"


def cti_ring(call_id: str, agent: str, *, secret: str, caller: str = "13800138000") -> dict:
    """Post a ringing call for `agent` (accepted: 202) and return the API's answer."""
    raw = json.dumps(
        {"event": "ringing", "call_id": call_id, "caller": caller, "agent": agent}
    ).encode()
    response: Any = APIClient().post(
        CTI_URL,
        raw,
        content_type="application/json",
        **signed_headers(raw, secret=secret, path=CTI_URL),
    )
    assert response.status_code == 202, response.content
    return response.json()
