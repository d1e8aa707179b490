"""The one parser of find documents: what ``dedupe --plan``, ``report --from-json`` read of each group."""

from __future__ import annotations

from imgtwin.documents import DocumentGroup, DocumentMember, document_groups


def test_each_group_is_read_with_what_is_wrong_with_it() -> None:
    document = {"tool": "imgtwin", "groups": [
        {"id": 7, "category": "exact", "members": [{"path": "a.jpg", "size": 3, "keep": True},
                                                   {"path": "b.jpg", "size": 3, "keep": False}]},
        {"category": "odd", "members": [{"path": "c.jpg", "size": True, "keep": True}]},
        {"id": "x", "members": ["d.jpg"]},
        "not a group",
        {"id": 5, "members": [{"path": 9}]},
    ]}
    assert document_groups(document) == [
        DocumentGroup(7, "exact", (DocumentMember("a.jpg", 3, True), DocumentMember("b.jpg", 3, False))),
        DocumentGroup(2, "near", (DocumentMember("c.jpg", None, True),), "a member lacks a valid path, size or keep"),
        DocumentGroup(3, "near", (), "a member is not an object", listed=False),
        DocumentGroup(4, "near", (), "it has no list of members", listed=False),
        DocumentGroup(5, "near", (), "a member lacks a valid path, size or keep", listed=False),
    ]
