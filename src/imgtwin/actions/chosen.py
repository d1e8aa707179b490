"""A person's review choices, honoured by a plan made from ``find``'s groups.

The review app keeps the keeper a person chose and the files they unticked in
the index, by content (``persistence.review_choices``). ``imgtwin dedupe`` on
the same folders finds the groups anew and would otherwise act on the file a
person chose to keep: here each group found takes the choice that still holds
for it (same contents, no new member), exactly as the page would show it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from imgtwin.actions.model import Honoured
from imgtwin.actions.vetting import Proposed
from imgtwin.persistence.review_choices import Member, StoredChoices
from imgtwin.records import DuplicateGroup


def proposed_groups(groups: Sequence[DuplicateGroup], stored: StoredChoices | None
                    ) -> tuple[list[Proposed], Honoured]:  # fmt: skip
    """``groups`` as a plan proposes them, with each stored choice that holds applied.

    A group whose keeper a person chose is not ``trusted``: its near members
    were verified against find's keeper, so they are verified again against
    the chosen one.
    """
    out: list[Proposed] = []
    chosen = spared = 0
    for group in groups:
        members = [(os.path.abspath(m.path), m.size) for m in group.members]
        automatic = next(k for k, m in enumerate(group.members) if m.keep)
        keeper, excluded = automatic, frozenset[int]()
        if stored is not None:
            choice = stored.resolve([Member(m.content_hash, path) for m, (path, _) in zip(group.members, members)],
                                    automatic)
            keeper = automatic if choice.keeper is None else choice.keeper
            excluded = frozenset(choice.excluded) - {keeper}
        chosen += keeper != automatic
        spared += len(excluded)
        out.append(Proposed(group.id, group.category, members[keeper],
                            tuple(m for k, m in enumerate(members) if k != keeper and k not in excluded),
                            trusted=keeper == automatic))
    return out, Honoured(chosen, spared)
