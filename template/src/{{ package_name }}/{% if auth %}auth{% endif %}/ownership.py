"""Rows that belong to a user: a mixin for any domain's model."""

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column


class OwnedByUser:
    # Who created the row: only they, or an admin, may change it. Null once they are deleted.
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
