"""The shared free-text rule: stripped, limited in characters, no hidden or control characters."""
import pytest

from dfdesk.services import text_limits
from dfdesk.services.text_limits import check_text


def test_value_is_stripped_and_returned():
    assert check_text("case name", "  Smith v Jones \n", text_limits.CASE_NAME) == "Smith v Jones"


def test_exactly_at_the_limit_passes_and_one_over_is_refused_with_both_numbers():
    assert check_text("case number", "x" * 64, text_limits.CASE_NUMBER) == "x" * 64
    with pytest.raises(ValueError, match=r"^case number is 65 characters; the limit is 64$"):
        check_text("case number", "x" * 65, text_limits.CASE_NUMBER)


def test_limit_counts_characters_not_bytes():
    assert check_text("examiner", "é" * 200, text_limits.EXAMINER) == "é" * 200


def test_agreed_limits():
    limits = (text_limits.CASE_NAME, text_limits.CASE_NUMBER, text_limits.EXAMINER, text_limits.DESCRIPTION,
              text_limits.ACTOR, text_limits.NOTE, text_limits.CONCLUSION_REASON)
    assert limits == (200, 64, 200, 4000, 200, 20000, 4000)


def test_free_text_keeps_newlines_and_tabs_and_normalises_windows_line_ends():
    assert check_text("note", "line one\r\n\tline two", text_limits.NOTE) == "line one\n\tline two"


@pytest.mark.parametrize("value", ["two\nlines", "tab\there", "bell\a"])
def test_one_line_fields_refuse_any_control_character(value):
    with pytest.raises(ValueError, match="case name contains a forbidden character U\\+00"):
        check_text("case name", value, text_limits.CASE_NAME)


@pytest.mark.parametrize("char", ["\x00", "\x1b", "\x7f"])
def test_free_text_refuses_other_control_characters(char):
    with pytest.raises(ValueError, match="control character"):
        check_text("note", f"before{char}after", text_limits.NOTE)


def test_bidirectional_override_is_refused():
    with pytest.raises(ValueError, match="U\\+202E .*bidirectional"):
        check_text("actor", "abc\u202eexe.txt", text_limits.ACTOR)


def test_undecodable_command_line_byte_is_refused():
    with pytest.raises(ValueError, match="undecodable"):
        check_text("case name", "caf\udce9", text_limits.CASE_NAME)


def test_explicit_multiline_overrides_the_default():
    assert check_text("summary", "a\nb", 100, multiline=True) == "a\nb"
    with pytest.raises(ValueError):
        check_text("note", "a\nb", text_limits.NOTE, multiline=False)


def test_none_is_treated_as_empty():
    assert check_text("examiner", None, text_limits.EXAMINER) == ""
