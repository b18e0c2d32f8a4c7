"""The one helper that turns a library's exception into the line a user sees."""

from vaegan_core.errors import first_line


def test_first_line_of_a_message():
    assert first_line(ValueError("\n  bad value  \nsecond line")) == "bad value"


def test_first_line_of_an_empty_message_is_the_error_type():
    assert first_line(KeyError()) == "KeyError"
    assert first_line(RuntimeError("   \n  ")) == "RuntimeError"
