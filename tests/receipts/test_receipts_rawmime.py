"""The byte-exact MIME reader: slices of the original bytes, bounded, lenient with truncation."""

from __future__ import annotations

from pecmass_xl.receipts.rawmime import (
    find_signed_entity,
    iter_leaves,
    parse_headers,
    split_head_body,
    split_multipart,
    to_crlf,
)


def test_split_head_body_with_either_line_ending():
    assert split_head_body(b"A: 1\r\nB: 2\r\n\r\nbody\r\n\r\nx") == (b"A: 1\r\nB: 2", b"body\r\n\r\nx")
    assert split_head_body(b"A: 1\nB: 2\n\nbody\r\n\r\n") == (b"A: 1\nB: 2", b"body\r\n\r\n")
    assert split_head_body(b"\r\nbody") == (b"", b"body")
    assert split_head_body(b"A: 1") == (b"A: 1", b"")


def test_headers_are_unfolded_case_insensitive_and_repeatable():
    headers = parse_headers(b"From mbox line\r\nX-Ricevuta: a\r\nSubject: one\r\n two\r\nx-ricevuta: b\r\n")
    assert headers.get_all("X-RICEVUTA") == ["a", "b"]
    assert headers.get("subject") == "one two"
    assert headers.get("from mbox line") is None


def test_split_multipart_is_byte_exact():
    body = b"preamble\r\n--B\r\npart one\r\n\r\n--B \r\nsecond\n--B--\r\nepilogue"
    assert split_multipart(body, b"B") == [b"part one\r\n", b"second"]


def test_boundary_prefix_of_another_is_not_confused():
    body = b"--B\r\nx\r\n--BB\r\ny\r\n--B--\r\n"
    assert split_multipart(body, b"B") == [b"x\r\n--BB\r\ny"]


def test_missing_close_delimiter_keeps_the_rest_and_reports_it():
    defects: list[str] = []
    assert split_multipart(b"--B\r\nx\r\n--B\r\ny", b"B", defects) == [b"x", b"y"]
    assert defects == ["missing close delimiter"]


def test_signed_entity_found_through_an_outer_wrapper_but_not_inside_attached_messages():
    signed = (
        b"Content-Type: multipart/signed; boundary=\"S\"\r\n\r\n--S\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
        b"--S\r\nContent-Type: application/pkcs7-signature\r\n\r\nAAAA\r\n--S--\r\n"
    )
    wrapped = b"Content-Type: multipart/mixed; boundary=\"W\"\r\n\r\n--W\r\n" + signed + b"\r\n--W--\r\n"
    content, signature = find_signed_entity(wrapped)
    assert content == b"Content-Type: text/plain\r\n\r\nhi"
    assert signature.endswith(b"AAAA")
    attached = (
        b"Content-Type: multipart/mixed; boundary=\"W\"\r\n\r\n--W\r\nContent-Type: message/rfc822\r\n\r\n"
        + signed + b"\r\n--W--\r\n"
    )
    assert find_signed_entity(attached) is None
    assert [leaf.content_type for leaf in iter_leaves(attached)] == ["message/rfc822"]


def test_to_crlf():
    assert to_crlf(b"a\nb\r\nc\r\r\nd\re") == b"a\r\nb\r\nc\r\r\nd\re"
