"""The desk card as the desk page fetches it (an htmx request for a dialled number), in the
language the agent's browser asks for."""

from django.test import Client
from django.urls import reverse

# The caller's number as the telephony hands it over (the tests store it as +8613800138000).
DIALLED = "13800138000"


def desk_card_html(client: Client, language: str = "en", phone: str = DIALLED) -> str:
    """The card's HTML for `phone` in `language` ("en" or "zh-hans"); the request must succeed."""
    response = client.get(
        reverse("desk-card"),
        {"phone": phone},
        HTTP_HX_REQUEST="true",
        HTTP_ACCEPT_LANGUAGE=language,
    )
    assert response.status_code == 200
    return response.content.decode()
