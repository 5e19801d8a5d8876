"""Plivo's voice webhooks: X-Plivo-Signature-V3 (checked against our public URL) and the Plivo XML we answer.

The signature is Plivo's own algorithm from its SDK (`plivo.utils.signature_v3`): HMAC-SHA256 with the
auth token over the URL, the sorted parameters and a nonce; the header may carry several signatures
(https://docs.plivo.com/docs/voice/xml/request/validation).
"""

from __future__ import annotations

from collections.abc import Mapping
from xml.sax.saxutils import escape, quoteattr

from plivo.utils.signature_v3 import validate_v3_signature

PLIVO_XML_MEDIA_TYPE = "application/xml"


class PlivoSignatures:
    def __init__(self, auth_token: str, public_base_url: str) -> None:
        self._token = auth_token
        self._base = public_base_url.rstrip("/")

    def is_valid(self, path: str, query: str, params: Mapping[str, str], signature: str, nonce: str) -> bool:
        if not signature or not nonce or len(signature) > 1024 or len(nonce) > 128:
            return False
        url = self._base + path + (f"?{query}" if query else "")
        try:
            return bool(validate_v3_signature("POST", url, nonce, self._token, signature, dict(params)))
        except (ValueError, TypeError, UnicodeError):
            return False


def stream_xml(stream_url: str) -> str:
    """A bidirectional μ-law stream; once it disconnects (we closed it), `<Hangup/>` ends the call.

    `keepCallAlive` makes the stream the only element running: what follows waits for it to end.
    """
    return (
        '<?xml version="1.0" encoding="UTF-8"?><Response>'
        '<Stream bidirectional="true" keepCallAlive="true" contentType="audio/x-mulaw;rate=8000">'
        f"{escape(stream_url)}</Stream><Hangup/></Response>"
    )


def dial_xml(number_digits: str, caller_id: str | None = None) -> str:
    """Connect the caller to a human (Plivo numbers are digits without "+")."""
    caller = f" callerId={quoteattr(caller_id)}" if caller_id else ""
    number = f"<Number>{escape(number_digits)}</Number>"
    return f'<?xml version="1.0" encoding="UTF-8"?><Response><Dial{caller}>{number}</Dial></Response>'


def speak_and_hangup_xml(text: str, language: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><Response>'
        f"<Speak language={quoteattr(language)}>{escape(text)}</Speak><Hangup/></Response>"
    )


def hangup_xml(reason: str = "busy") -> str:
    return f'<?xml version="1.0" encoding="UTF-8"?><Response><Hangup reason={quoteattr(reason)}/></Response>'
