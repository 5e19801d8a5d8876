"""Who may open a media stream: a token issued for exactly this call and these parameters, used once.

The answer webhook issues the token (`issue`); the carrier hands it back in the stream's start message.
`admit` checks it — the call sid's shape, the signature, the expiry, a digest of every parameter we
trust (caller, called, direction, purpose, carrier) — and then claims the call's stream atomically in
MongoDB, so a replayed token or a second stream is refused on any node, before any Realtime session.

The caller hears nothing until the stream is admitted, so the database gets `CLAIM_TIMEOUT_S` (an
insert takes milliseconds on a healthy one): past that, the claim is made in this process (logged and
counted) and the call goes on, replays are still refused on this node, and the insert is left to
finish in the background, so other nodes see the claim once the database answers again.
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
CLAIM_TIMEOUT_S = 0.3  # dead air at the start of the call while we wait; a stalled database costs no more
LOCAL_CLAIMS_KEPT = 10_000


class StreamGate:
    def __init__(self, tokens: CallTokens, claims: StreamClaimRepository) -> None:
        self._tokens = tokens
        self._claims = claims
        self._local: OrderedDict[str, None] = OrderedDict()  # claims made here (bounded)
        self._late: set[asyncio.Task[bool]] = set()  # claims still being written after we stopped waiting

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
        self._remember(claim_id)  # before the first await: a second stream here is refused at once
        write = asyncio.ensure_future(self._claims.claim(claim_id, claims.nonce, carrier))
        try:
            first = await asyncio.wait_for(asyncio.shield(write), CLAIM_TIMEOUT_S)
        except (PyMongoError, TimeoutError) as error:
            metrics.DB_ERRORS.labels(operation="stream_claim").inc()
            log.warning("stream_claim_local_only", call_sid=call_sid, error=type(error).__name__)
            if not write.done():
                self._late.add(write)
                write.add_done_callback(self._late_claim_done)
            first = True
        return None if first else "replayed"

    def _late_claim_done(self, write: asyncio.Task[bool]) -> None:
        self._late.discard(write)
        if not write.cancelled() and write.exception() is None and not write.result():
            log.warning("stream_claim_conflict")  # another node had claimed it while we could not tell

    async def aclose(self) -> None:
        """Let the claims still being written finish (bounded), so shutdown loses none of them."""
        if self._late:
            await asyncio.wait(self._late, timeout=2)

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
