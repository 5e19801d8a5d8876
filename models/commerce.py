"""Commerce data as stored in MongoDB: customers, orders, products, tickets, transfers.

Each model is one document of its collection, keyed by its natural id (phone, `order_id`, `sku`,
`ticket_id`, `call_sid`); MongoDB's `_id` stays an internal ObjectId and is dropped on read.
Money is in rupees (INR) with at most two decimals; calendar dates (no time of day) are stored as
ISO strings ("2026-03-05") because BSON has no date-only type, and they still sort correctly.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field, field_validator

E164 = r"^\+[1-9]\d{6,14}$"
PINCODE = r"^[1-9]\d{5}$"  # Indian PIN codes never start with 0
ORDER_ID = r"^ORD-\d{6}$"
TICKET_ID = r"^TKT-\d{6}$"

OrderStatus = Literal["placed", "packed", "shipped", "out_for_delivery", "delivered", "cancelled", "returned"]
ORDER_STATUSES: tuple[OrderStatus, ...] = (
    "placed",
    "packed",
    "shipped",
    "out_for_delivery",
    "delivered",
    "cancelled",
    "returned",
)
PaymentMethod = Literal["COD", "UPI", "card"]
# COD orders cancelled before delivery have nothing to refund: "not_applicable".
RefundStatus = Literal["not_applicable", "pending", "processed", "failed"]
PreferredLanguage = Literal["hinglish", "hindi", "english"]

TicketCategory = Literal[
    "delivery",
    "refund",
    "return",
    "cancellation",
    "payment",
    "damaged_item",
    "wrong_item",
    "product_query",
    "callback",
    "other",
]
TicketPriority = Literal["low", "medium", "high", "urgent"]
TicketStatus = Literal["open", "in_progress", "resolved", "closed"]

Department = Literal["orders", "refunds", "returns", "payments", "technical", "general"]
# Same states as `models.call_record.TransferInfo`, which the bridge mirrors into the call record.
TransferStatus = Literal["requested", "dialing", "connected", "failed", "unavailable"]
# How the caller proved who they are, weakest first: nothing; the delivery pincode of one order (its basic
# status only); the caller ID matching a customer's number (spoofable: low-risk details only); a one-time
# code texted to the number on file (everything about that customer's orders).
CallerVerification = Literal["none", "pincode", "caller_id", "otp"]
CALLER_VERIFICATIONS: tuple[CallerVerification, ...] = ("none", "pincode", "caller_id", "otp")


def utc_now() -> datetime:
    """Now, to the millisecond: BSON dates hold milliseconds, so a model equals its stored copy."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def round_inr(value: float) -> float:
    return round(float(value), 2)


class CommerceDocument(BaseModel):
    # Unknown keys (e.g. `_id`, fields added later) are ignored so old and new documents both load.
    model_config = ConfigDict(extra="ignore")

    def to_document(self) -> dict[str, Any]:
        """The BSON-ready dict: dates become ISO strings, datetimes stay BSON dates.

        Computed fields (an order's total) are stored too, for admin queries; they are
        recomputed on load, so a stored value can never drift from the items.
        """
        return {key: _bson_ready(value) for key, value in self.model_dump(mode="python").items()}


def _bson_ready(value: Any) -> Any:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _bson_ready(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_bson_ready(item) for item in value]
    return value


class Customer(CommerceDocument):
    phone: str = Field(pattern=E164)
    name: str = Field(min_length=1, max_length=80)
    preferred_language: PreferredLanguage = "hinglish"
    pincode: str = Field(pattern=PINCODE)
    city: str
    created_at: datetime = Field(default_factory=utc_now)


class OrderItem(BaseModel):
    sku: str
    name: str
    qty: int = Field(ge=1, le=100)
    price_inr: float = Field(gt=0, description="Unit price in rupees")

    @field_validator("price_inr")
    @classmethod
    def _paise_precision(cls, value: float) -> float:
        return round_inr(value)


class Order(CommerceDocument):
    order_id: str = Field(pattern=ORDER_ID)
    customer_phone: str = Field(pattern=E164)
    items: list[OrderItem] = Field(min_length=1)
    status: OrderStatus
    payment_method: PaymentMethod
    refund_status: RefundStatus = "not_applicable"
    shipping_pincode: str = Field(pattern=PINCODE)
    courier: str | None = None
    tracking_id: str | None = None
    placed_at: datetime
    expected_delivery: date | None = None
    delivered_on: date | None = None
    updated_at: datetime = Field(default_factory=utc_now)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def total_inr(self) -> float:
        return round_inr(sum(item.price_inr * item.qty for item in self.items))

    @computed_field  # type: ignore[prop-decorator]
    @property
    def total_units(self) -> int:
        return sum(item.qty for item in self.items)


class Serviceability(BaseModel):
    """A pincode the product ships to, from which warehouse, in how many days."""

    pincode: str = Field(pattern=PINCODE)
    warehouse: str
    delivery_days: int = Field(ge=0, le=30)


# Shipping from a farther warehouse when the one serving the pincode has run out.
INTER_WAREHOUSE_EXTRA_DAYS = 2


class DeliveryQuote(BaseModel):
    in_stock: bool  # enough units anywhere for the quantity asked
    deliverable: bool | None  # None: no pincode to check against
    delivery_days: int | None = None  # set when in stock and deliverable


class Product(CommerceDocument):
    sku: str = Field(min_length=3, max_length=40)
    name: str
    hindi_aliases: list[str] = Field(default_factory=list, description="Devanagari names")
    hinglish_aliases: list[str] = Field(default_factory=list, description="Roman-script Hindi / spoken names")
    category: str
    subcategory: str = Field(description="Product type; products of one subcategory are alternatives")
    brand: str | None = None
    price_inr: float = Field(gt=0)
    stock: dict[str, int] = Field(default_factory=dict, description="Units per warehouse code")
    serviceable: list[Serviceability] = Field(default_factory=list)

    @field_validator("price_inr")
    @classmethod
    def _paise_precision(cls, value: float) -> float:
        return round_inr(value)

    @property
    def search_names(self) -> list[str]:
        return [self.name, *self.hinglish_aliases, *self.hindi_aliases]

    @property
    def total_stock(self) -> int:
        return sum(max(units, 0) for units in self.stock.values())

    def serviceability_for(self, pincode: str) -> Serviceability | None:
        return next((entry for entry in self.serviceable if entry.pincode == pincode), None)

    def delivery_quote(self, pincode: str | None, quantity: int = 1) -> DeliveryQuote:
        in_stock = self.total_stock >= quantity
        if pincode is None:
            return DeliveryQuote(in_stock=in_stock, deliverable=None)
        entry = self.serviceability_for(pincode)
        if entry is None:
            return DeliveryQuote(in_stock=in_stock, deliverable=False)
        if not in_stock:
            return DeliveryQuote(in_stock=False, deliverable=True)
        local = self.stock.get(entry.warehouse, 0) >= quantity
        days = entry.delivery_days + (0 if local else INTER_WAREHOUSE_EXTRA_DAYS)
        return DeliveryQuote(in_stock=True, deliverable=True, delivery_days=days)


class Ticket(CommerceDocument):
    ticket_id: str = Field(pattern=TICKET_ID)
    call_sid: str | None = None
    phone: str | None = Field(default=None, pattern=E164)
    order_id: str | None = Field(default=None, pattern=ORDER_ID)
    category: TicketCategory
    priority: TicketPriority = "medium"
    description: str = Field(min_length=1, max_length=1000)
    status: TicketStatus = "open"
    created_at: datetime = Field(default_factory=utc_now)
    updated_at: datetime = Field(default_factory=utc_now)


class Transfer(CommerceDocument):
    call_sid: str = Field(min_length=1)
    phone: str | None = Field(default=None, pattern=E164)  # None: the caller had no E.164 number (SIP, client)
    reason: str
    department: Department = "general"
    summary: str = ""
    verification: CallerVerification = "none"  # how the caller was verified when the transfer was asked for
    status: TransferStatus = "requested"
    created_at: datetime = Field(default_factory=utc_now)
    updated_at: datetime = Field(default_factory=utc_now)
