"""The review app's stored choices, in a real index: by content, with paths only to tell byte copies apart."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from imgtwin.persistence.index import HashIndex
from imgtwin.persistence.review_choices import ChoiceError, GroupChoice, Member, store_choice, stored_choices

A, B, C, D = "a" * 32, "b" * 32, "c" * 32, "d" * 32


def resolved(db: Path, members: list[Member], automatic: int = 0) -> GroupChoice:
    with HashIndex(str(db), readonly=True) as index:
        return stored_choices(index.conn).resolve(members, automatic)


def store(db: Path, members: list[Member], choice: GroupChoice) -> None:
    with HashIndex(str(db)) as index:
        store_choice(index.conn, members, choice)


def test_a_keeper_holds_among_the_contents_it_was_chosen_over_wherever_they_are(tmp_path: Path) -> None:
    db = tmp_path / "i.db"
    group = [Member(A, "/p/a.jpg"), Member(B, "/p/b.jpg"), Member(C, "/p/c.jpg")]
    store(db, group, GroupChoice(keeper=1, excluded=(2,)))
    assert resolved(db, group) == GroupChoice(1, (2,))
    moved = [Member(C, "/q/c.jpg"), Member(A, "/q/a.jpg"), Member(B, "/q/b.jpg")]  # renamed folder, other order
    assert resolved(db, moved) == GroupChoice(2, (0,))
    assert resolved(db, moved[1:]) == GroupChoice(1, ())  # one gone (trashed): still chosen over the rest
    assert resolved(db, [*group, Member(D, "/p/d.jpg")]) == GroupChoice(None, (2,))  # a file never seen: automatic
    assert resolved(db, [Member(A, "/p/a.jpg"), Member(D, "/p/b.jpg")]) == GroupChoice()  # b changed: dropped
    assert resolved(db, [Member(None, "/p/x.jpg"), *group]) == GroupChoice(None, (3,))  # a content not known

    store(db, group, GroupChoice(keeper=2))  # a new choice replaces the old one, unticked files included
    assert resolved(db, group) == GroupChoice(2, ())
    store(db, group, GroupChoice())  # reset
    assert resolved(db, group) == GroupChoice()
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM chosen_keepers").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM excluded_files").fetchone() == (0,)


def test_byte_copies_are_told_apart_by_their_paths(tmp_path: Path) -> None:
    db = tmp_path / "i.db"
    copies = [Member(A, "/p/1.jpg"), Member(A, "/p/2.jpg"), Member(A, "/p/3.jpg")]
    store(db, copies, GroupChoice(keeper=2, excluded=(1,)))
    assert resolved(db, copies) == GroupChoice(2, (1,))
    moved = [Member(A, "/q/1.jpg"), Member(A, "/q/2.jpg"), Member(A, "/q/3.jpg")]
    assert resolved(db, moved, automatic=0) == GroupChoice()  # which copy was meant cannot be told


def test_a_choice_naming_a_file_without_a_content_hash_is_refused_and_an_old_index_has_none(tmp_path: Path) -> None:
    db = tmp_path / "i.db"
    with pytest.raises(ChoiceError, match="no content hash"):
        store(db, [Member(None, "/p/a.jpg"), Member(B, "/p/b.jpg")], GroupChoice(keeper=0))
    old = tmp_path / "old.db"
    with HashIndex(str(old)) as index:
        index.conn.execute("DROP TABLE chosen_keepers")
        assert stored_choices(index.conn).resolve([Member(A, "/a"), Member(B, "/b")], 0) == GroupChoice()
