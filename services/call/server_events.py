"""The Realtime server events a call acts on (GA names), each typed with the SDK's model of that event.

The reader has already parsed every event into a dict (orjson); a handled one is typed from that dict
with its own model (`Model.model_validate`, 2-40 µs), not with the SDK's `parse_event` of the raw
bytes over the whole server-event union (60-220 µs; bench/README.md, "Round two"). Events not listed
here (transcript deltas, rate limits, item bookkeeping: most of what the server sends) are never typed,
and neither are a response's output items, which no handler reads (round seven: half the typing's CPU).
"""

from __future__ import annotations

from openai.types.realtime import ConversationItemInputAudioTranscriptionCompletedEvent as CallerTranscript
from openai.types.realtime import InputAudioBufferSpeechStartedEvent as SpeechStarted
from openai.types.realtime import InputAudioBufferSpeechStoppedEvent as SpeechStopped
from openai.types.realtime import RealtimeErrorEvent as ServerError
from openai.types.realtime import ResponseAudioDoneEvent as AudioDone
from openai.types.realtime import ResponseAudioTranscriptDoneEvent as AssistantTranscript
from openai.types.realtime import ResponseCreatedEvent as ResponseCreated
from openai.types.realtime import ResponseDoneEvent as ResponseDone
from openai.types.realtime import ResponseFunctionCallArgumentsDoneEvent as FunctionCall
from pydantic import BaseModel

__all__ = [
    "HANDLED",
    "AssistantTranscript",
    "AudioDone",
    "CallerTranscript",
    "FunctionCall",
    "ResponseCreated",
    "ResponseDone",
    "ServerError",
    "SpeechStarted",
    "SpeechStopped",
]

HANDLED: dict[str, type[BaseModel]] = {
    "input_audio_buffer.speech_started": SpeechStarted,
    "input_audio_buffer.speech_stopped": SpeechStopped,
    "response.created": ResponseCreated,
    "response.output_audio.done": AudioDone,
    "response.done": ResponseDone,
    "response.function_call_arguments.done": FunctionCall,
    "response.output_audio_transcript.done": AssistantTranscript,
    "conversation.item.input_audio_transcription.completed": CallerTranscript,
    "error": ServerError,
}


# Events whose `response.output` (every item of the response: its largest part) no handler reads: it is
# left out of the typed event (`response.output` is None there) rather than validated item by item.
UNTYPED_OUTPUT = frozenset({"response.created", "response.done"})


def typed(event_type: str, event: dict[str, object]) -> BaseModel | None:
    """The SDK's model of a handled event; None for an event nobody handles. Raises ValueError (pydantic's
    ValidationError) for a handled event that does not have its documented shape."""
    model = HANDLED.get(event_type)
    if model is None:
        return None
    response = event.get("response")
    if event_type in UNTYPED_OUTPUT and isinstance(response, dict) and "output" in response:
        event = {**event, "response": {key: value for key, value in response.items() if key != "output"}}
    return model.model_validate(event)
