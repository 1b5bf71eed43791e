"""Start the shared history: an empty root that no domain owns.

Revision ID: 2d5fcddf36f0
Revises:
Create Date: 2026-11-28 13:30:00.000000
"""

from collections.abc import Sequence

revision: str = "2d5fcddf36f0"
down_revision: str | Sequence[str] | None = None
# The history every variant shares. A feature with tables is a branch of its own, so that no
# answer changes this graph: see the README's "Migrate" section. Empty, so that removing the
# example domain's revisions leaves the branch (and `revision`'s default head) in place.
branch_labels: str | Sequence[str] | None = ("shared",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
