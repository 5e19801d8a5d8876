"""Who may open a media stream: a token issued for exactly this call and these parameters, used once.

The answer webhook issues the token (`issue`); the carrier hands it back in the stream's start message.
`admit` checks it — the call sid's shape, the signature, the expiry, a digest of every parameter we
trust (caller, called, direction, purpose, carrier) — and then claims the call's stream atomically in
MongoDB, so a replayed token or a second stream is refused on any node, before any Realtime session.

If the database cannot be reached within a second, the claim is made in this process only (logged
and counted): the call still works, and replays are still refused on this node.
"""

from __future__ import annotations

import asyncio
import re
from collections import OrderedDict
from collections.abc import Mapping

from pymongo.errors import PyMongoError

from services import metrics
from services.call_tokens import CallTokens
from services.store.stream_claims import StreamClaimRepository
from utils.logger import get_logger

log = get_logger(__name__)

CALL_SID = re.compile(r"^CA[0-9a-f]{32}$")
CLAIM_TIMEOUT_S = 1.0
LOCAL_CLAIMS_KEPT = 10_000


class StreamGate:
    def __init__(self, tokens: CallTokens, claims: StreamClaimRepository) -> None:
        self._tokens = tokens
        self._claims = claims
        self._local: OrderedDict[str, None] = OrderedDict()  # claims made here (bounded)

    def issue(self, call_sid: str, parameters: Mapping[str, str]) -> str:
        return self._tokens.issue(call_sid, parameters)

    async def admit(
        self,
        call_sid: str,
        parameters: Mapping[str, str],
        token: str,
        carrier: str,
        call_id: re.Pattern[str] = CALL_SID,
    ) -> str | None:
        """None when the stream may start; otherwise why not (`bad_call_sid`, `bad_token`, `replayed`).

        `call_id`: the shape of the carrier's call ids (Twilio's by default)."""
        if not call_id.fullmatch(call_sid):
            return "bad_call_sid"
        claims = self._tokens.verify(call_sid, token, parameters)
        if claims is None:
            return "bad_token"
        # A call has one stream per leg: the first, and one back from each failed transfer (`leg`).
        claim_id = f"{call_sid}:{parameters['leg']}" if parameters.get("leg") else call_sid
        if claim_id in self._local:
            return "replayed"
        try:
            first = await asyncio.wait_for(self._claims.claim(claim_id, claims.nonce, carrier), CLAIM_TIMEOUT_S)
        except (PyMongoError, TimeoutError) as error:
            metrics.DB_ERRORS.labels(operation="stream_claim").inc()
            log.warning("stream_claim_local_only", call_sid=call_sid, error=type(error).__name__)
            first = True
        self._remember(claim_id)
        return None if first else "replayed"

    async def already_started(self, call_sid: str) -> bool:
        """Whether the call's stream has started (a late or forged answer webhook for it is refused)."""
        if call_sid in self._local:
            return True
        try:
            return await asyncio.wait_for(self._claims.started(call_sid), CLAIM_TIMEOUT_S) is not None
        except (PyMongoError, TimeoutError) as error:
            metrics.DB_ERRORS.labels(operation="stream_claim_lookup").inc()
            log.warning("stream_claim_lookup_failed", call_sid=call_sid, error=type(error).__name__)
            return False

    def _remember(self, call_sid: str) -> None:
        self._local[call_sid] = None
        while len(self._local) > LOCAL_CLAIMS_KEPT:
            self._local.popitem(last=False)
