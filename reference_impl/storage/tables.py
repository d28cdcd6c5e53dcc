"""The schema, as SQLAlchemy Core tables (no ORM: the domain objects stay plain dataclasses).

Money is two columns, an integer amount in minor units and an ISO 4217 currency
(DESIGN.md section 3). Times are float seconds, as the domain passes ``now``. Child rows
(cart lines, order lines, order history, product variants) carry a position so that a
read gives back the lists in the order they were written, as the in-memory store does.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

# Ids sort the way Python sorts them (code point order) on both databases, so that lists
# ordered by id agree with the in-memory store; PostgreSQL would otherwise use the
# server's locale collation.
Id = String().with_variant(String(collation="C"), "postgresql")

metadata = MetaData(
    naming_convention={
        "pk": "pk_%(table_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
    }
)

products = Table(
    "products",
    metadata,
    Column("product_id", Id, primary_key=True),
    Column("name", Text, nullable=False),
    Column("description", Text, nullable=False),
)

variants = Table(
    "variants",
    metadata,
    Column("variant_id", Id, primary_key=True),
    Column(
        "product_id", Id, ForeignKey("products.product_id", ondelete="CASCADE"), nullable=False
    ),
    # Place in the product's variant list; NULL once a later upsert of the product left the
    # variant out (it stays readable by id, as in the in-memory store).
    Column("position", Integer, nullable=True),
    Column("sku", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("price_amount", BigInteger, nullable=False),
    Column("price_currency", String(3), nullable=False),
    Column("deliverable", Boolean, nullable=False),
    Index("ix_variants_product_id", "product_id", "position"),
)

locations = Table(
    "locations",
    metadata,
    Column("location_id", Id, primary_key=True),
    Column("name", Text, nullable=False),
)

accounts = Table(
    "accounts",
    metadata,
    Column("user_id", Id, primary_key=True),
    Column("email", Text, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("shop_id", Text, nullable=False),
)

# No foreign keys to variants or locations: the in-memory store accepts stock for any
# key, and the admin API may load stock before the catalog.
stock = Table(
    "stock",
    metadata,
    Column("variant_id", Id, nullable=False),
    Column("location_id", Id, nullable=False),
    Column("on_hand", Integer, nullable=False),
    Column("reserved", Integer, nullable=False),
    Column("sold", Integer, nullable=False),
    Column("received", Integer, nullable=False),
    PrimaryKeyConstraint("variant_id", "location_id"),
    # I1 enforced by the database as a second line of defence behind the guarded updates.
    CheckConstraint("on_hand >= 0", name="on_hand_not_negative"),
    CheckConstraint("reserved >= 0", name="reserved_not_negative"),
    CheckConstraint("sold >= 0", name="sold_not_negative"),
    CheckConstraint("received >= 0", name="received_not_negative"),
    CheckConstraint("received = on_hand + reserved + sold", name="conservation"),
)

carts = Table(
    "carts",
    metadata,
    Column("cart_id", Id, primary_key=True),
    Column("owner_id", Id, nullable=True),
    Column("created_at", Double, nullable=False),
    Column("updated_at", Double, nullable=False),
)

cart_lines = Table(
    "cart_lines",
    metadata,
    Column("cart_id", Id, ForeignKey("carts.cart_id", ondelete="CASCADE"), nullable=False),
    Column("variant_id", Id, nullable=False),
    Column("position", Integer, nullable=False),
    Column("location_id", Id, nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("unit_price_amount", BigInteger, nullable=False),
    Column("unit_price_currency", String(3), nullable=False),
    PrimaryKeyConstraint("cart_id", "variant_id"),
)

orders = Table(
    "orders",
    metadata,
    Column("order_id", Id, primary_key=True),
    Column("owner_id", Id, nullable=False),
    Column("cart_id", Id, nullable=False),
    Column("total_amount", BigInteger, nullable=False),
    Column("total_currency", String(3), nullable=False),
    Column("created_at", Double, nullable=False),
    Column("expires_at", Double, nullable=True),
    Column("status", String(32), nullable=False),
    Column("holds_stock", Boolean, nullable=False),
    Column("payment_session_id", Text, nullable=True),
    Column("payment_url", Text, nullable=True),
    Column("idempotency_key", Text, nullable=True),
    Column("request_fingerprint", Text, nullable=True),
    Column("version", Integer, nullable=False),
    # I9: one order per (buyer, Idempotency-Key); NULL keys never collide.
    UniqueConstraint("owner_id", "idempotency_key", name="uq_orders_idempotency"),
    # The expiry sweep: pending orders by deadline.
    Index("ix_orders_status_expires_at", "status", "expires_at"),
)

order_lines = Table(
    "order_lines",
    metadata,
    Column("order_id", Id, ForeignKey("orders.order_id", ondelete="CASCADE"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("variant_id", Id, nullable=False),
    Column("location_id", Id, nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("unit_price_amount", BigInteger, nullable=False),
    Column("unit_price_currency", String(3), nullable=False),
    PrimaryKeyConstraint("order_id", "position"),
)

order_history = Table(
    "order_history",
    metadata,
    Column("order_id", Id, ForeignKey("orders.order_id", ondelete="CASCADE"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("status", String(32), nullable=False),
    Column("at", Double, nullable=False),
    Column("reason", Text, nullable=False),
    PrimaryKeyConstraint("order_id", "position"),
)

# I3: the event id is the primary key, so a redelivery cannot be recorded twice.
payment_events = Table(
    "payment_events",
    metadata,
    Column("event_id", Id, primary_key=True),
    Column("order_id", Id, nullable=False, index=True),
    Column("outcome", String(32), nullable=False),
    Column("verdict", Text, nullable=False),
    Column("received_at", Double, nullable=False),
)

outbox = Table(
    "outbox",
    metadata,
    Column("message_id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(64), nullable=False),
    Column("order_id", Id, nullable=False, index=True),
    Column("payload", JSON, nullable=False),
    Column("created_at", Double, nullable=False),
    Column("sent_at", Double, nullable=True),
    Column("attempts", Integer, nullable=False),
    # When a sender process took the message (its lease starts); NULL: free to take.
    Column("claimed_at", Double, nullable=True),
)
# The sender polls for unsent messages only; a partial index stays as small as the backlog.
Index(
    "ix_outbox_pending",
    outbox.c.kind,
    outbox.c.message_id,
    sqlite_where=outbox.c.sent_at.is_(None),
    postgresql_where=outbox.c.sent_at.is_(None),
)

# The actor-to-actor trace: one row per correlation id and store, holding the events that
# were recorded since the last store as a JSON array of [source, target, message, at, kind].
# A row per event cost an order fifteen inserts into an indexed table, a tenth of the shop's
# CPU per order (storage/traces.py); the trace is only ever read whole, by correlation id.
traces = Table(
    "trace_records",
    metadata,
    Column("trace_id", Integer, primary_key=True, autoincrement=True),
    Column("correlation_id", Id, nullable=False, index=True),
    Column("events", Text, nullable=False),
)
