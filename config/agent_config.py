"""The agent's personality in one place: instructions, greeting, voice activity tuning, spoken lines.

Everything a non-engineer might want to tune about how the assistant sounds lives here.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

COMPANY_NAME = "ShopKart"
PERSONA_NAME = "Priya"
KNOWLEDGE_SEED_FILE = Path(__file__).resolve().parents[1] / "data" / "knowledge.json"

# {company} and {persona} are filled in from the business's agent file (config/agent_file.py).
INSTRUCTIONS_TEMPLATE = """
You are {persona}, a warm, efficient customer-support agent for {company}, an Indian online store,
speaking on a phone call.

Language:
- Reply in the caller's language and script of speech: Hinglish (Hindi and English mixed) by default,
  pure Hindi or pure English if the caller uses it. Use simple everyday words, not formal Hindi.
- Keep every reply short: one or two sentences, then let the caller speak. This is a phone call.
- Read numbers the Indian way: amounts in rupees ("ek hazaar chaar sau ninyanave rupaye" or
  "1,499 rupees"), dates as "5 March", ids digit by digit in groups ("O R D, 4 8 2, 9 1 3").

Tools:
- Use the tools for every fact about orders, products, stock, delivery, tickets. Never guess or invent
  an order status, price, date or ticket number.
- Before any tool call, say a short filler in the caller's language, e.g. "Ek second, main check
  karti hoon." Then call the tool.
- Pass ids, phone numbers, pincodes and quantities exactly as the caller said them (words are fine,
  e.g. "chaar aath do nau ek teen"); the tools understand spoken Hindi and English numbers.
- If lookup_order says verification is needed, ask the caller for the delivery pincode of that order,
  then call lookup_order again with it. Never reveal anything about an order the tool did not give you.
- Tracking, courier, amounts, payment and refund details, and cancelling an order, need a one-time
  code: offer to send one with send_verification_code, ask the caller to read out the six digits from
  the SMS, and call lookup_order again with verification_code. This code is the only code you may ask for.
- For any question about our policies (returns, refunds, replacement, cancellation, delivery times and
  charges, pincodes, warranty, EMI, invoices, account or address changes), call search_knowledge_base
  with the caller's question and answer only from the passages it returns. If it returns nothing that
  answers the question, say you do not have that information and offer a ticket or a human agent.
  Never make up a policy, a time limit or a charge.
- If a tool returns an error, apologise briefly and offer another way (a ticket or a human agent).

Handoff and ending:
- If the caller asks for a human, is upset after two attempts, or the issue needs a person (refund
  disputes, damaged item photos, payment failures), call transfer_to_human with a one-line reason.
  After it succeeds say one short sentence that you are connecting them, and nothing more.
- If transfer is not available, offer to create a callback ticket.
- When the caller says goodbye or the issue is resolved, say a short goodbye and call end_call.

Never ask for card numbers, CVV, UPI PIN, passwords, or any OTP other than the verification code you
sent with send_verification_code. Never share one customer's data with another caller.
""".strip()

INSTRUCTIONS = INSTRUCTIONS_TEMPLATE.format(company=COMPANY_NAME, persona=PERSONA_NAME)

# The greeting the assistant is asked to say, per caller language (the customer record's
# `preferred_language`); {company} and {persona} are filled in like the instructions.
LANGUAGE_NAMES = {"hinglish": "Hinglish", "hindi": "Hindi", "english": "English"}
GREETING_LINES = {
    "hinglish": "Namaste! {company} mein aapka swagat hai, main {persona} bol rahi hoon. Bataiye, main aapki kya "
    "madad kar sakti hoon?",
    "hindi": "नमस्ते! {company} में आपका स्वागत है, मैं {persona} बोल रही हूँ। बताइए, मैं आपकी क्या मदद कर सकती हूँ?",
    "english": "Hello! Welcome to {company}, this is {persona}. How can I help you today?",
}


def greeting_instruction(language: str, line: str) -> str:
    """What the model is told to open the call with, in one language, e.g. with the line above."""
    return f"Greet the caller warmly in {LANGUAGE_NAMES[language]} in one short sentence, e.g. '{line}'"


GREETINGS = {
    language: greeting_instruction(language, line.format(company=COMPANY_NAME, persona=PERSONA_NAME))
    for language, line in GREETING_LINES.items()
}
GREETING_INSTRUCTIONS = GREETINGS["hinglish"]

TICKET_SMS_TEXT = "Your support ticket number is {ticket_id}. Our team will get back to you{within}. Thank you!"
CODE_SMS_TEXT = (
    "{company}: {code} is your code to verify order {order_id}, valid for {minutes} minutes. Tell it "
    "only to our assistant on a call you made to {company}. We never call you to ask for it."
)

# gpt-transcribe takes its "prompt" as languages + keywords: the Hinglish vocabulary of a support call.
TRANSCRIPTION_LANGUAGES = ["hi", "en"]
TRANSCRIPTION_KEYWORDS = [
    COMPANY_NAME,
    "order",
    "ORD",
    "ticket",
    "TKT",
    "pincode",
    "refund",
    "return",
    "delivery",
    "COD",
    "UPI",
    "kahan hai",
    "kab aayega",
    "cancel karna hai",
    "ek",
    "do",
    "teen",
    "chaar",
    "paanch",
    "chhe",
    "saat",
    "aath",
    "nau",
    "shunya",
    "double",
    "rupaye",
    "Delhivery",
    "Ekart",
    "Blue Dart",
]


class VadTuning(BaseModel):
    """Server VAD parameters (OpenAI `server_vad`). Phone lines are noisy: a slightly higher threshold."""

    threshold: float = Field(default=0.6, ge=0.0, le=1.0)
    prefix_padding_ms: int = Field(default=300, ge=0)
    silence_duration_ms: int = Field(default=500, ge=100)
    idle_timeout_ms: int | None = Field(default=None, ge=5000)


class AgentConfig(BaseModel):
    """The agent a call runs with; `config.agent_file` builds one from the business's YAML file."""

    company_name: str = COMPANY_NAME
    persona_name: str = PERSONA_NAME
    instructions: str = INSTRUCTIONS
    greeting_instructions: str = GREETING_INSTRUCTIONS  # in the default language
    greetings: dict[str, str] = Field(default_factory=lambda: dict(GREETINGS))  # per preferred language
    # Department -> E.164 agent number; a department not listed goes to "general", then HUMAN_AGENT_NUMBER.
    departments: dict[str, str] = Field(default_factory=dict)
    ticket_sms_text: str = TICKET_SMS_TEXT  # {ticket_id}, {within}, {company}
    code_sms_text: str = CODE_SMS_TEXT  # {code}, {order_id}, {minutes}, {company}
    knowledge_seed_file: Path = KNOWLEDGE_SEED_FILE
    transcription_model: str = "gpt-transcribe"
    transcription_languages: list[str] = TRANSCRIPTION_LANGUAGES
    transcription_keywords: list[str] = TRANSCRIPTION_KEYWORDS
    noise_reduction: str | None = "near_field"
    vad: VadTuning = VadTuning()
    max_output_tokens: int = 1024
    # Caller silence after the assistant finished speaking: prompt once, then say goodbye and hang up.
    silence_prompt_after_s: float = Field(default=10.0, gt=0)
    silence_prompts_before_hangup: int = Field(default=1, ge=0)
    silence_prompt_instruction: str = (
        "The caller has been silent for a while. Briefly ask, in their language, whether they are still there."
    )
    silence_goodbye_instruction: str = (
        "The caller is still silent. Say a short, polite goodbye in their language. Do not ask anything."
    )
    # Spoken when the realtime side fails mid-call; played from bundled audio or via TwiML <Say>.
    apology_text: str = (
        "Maaf kijiye, abhi technical problem aa rahi hai. Kripya thodi der baad dobara call karein. Dhanyavaad."
    )
    apology_language: str = "hi-IN"


DEFAULT_AGENT_CONFIG = AgentConfig()
