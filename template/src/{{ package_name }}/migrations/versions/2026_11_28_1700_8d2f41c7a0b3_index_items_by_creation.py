"""Index items by creation time, the list's default order.

Revision ID: 8d2f41c7a0b3
Revises: e6c7b5ea2929
Create Date: 2026-11-28 17:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "8d2f41c7a0b3"
down_revision: str | Sequence[str] | None = "e6c7b5ea2929"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_items_created_at_id", "items", ["created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_items_created_at_id", table_name="items")
