"""Right-to-left text put in display order and shaped for a Tk that does
neither: checked against the code points a reader expects to see."""

from __future__ import annotations

import pytest

from zmqchat.client.gui.glyphs import displayable, reorders_rtl
from zmqchat.client.gui.rtl import shape, visual, visual_lines

# سلام: seen from the left, the final meem, the medial lam, then alef (which
# joins only to its right), the initial seen.
SALAM_SHOWN = "\ufee1\ufe8e\ufee0\ufeb3"
DONYA_SHOWN = "\ufe8e\ufbff\ufee7\ufea9"  # دنیا


def test_letters_take_their_form_in_the_word():
    assert shape("سلام") == "\ufeb3\ufee0\ufe8e\ufee1"  # initial, medial, final, final
    assert shape("د") == "\ufea9"  # alone: isolated
    assert shape("پیام") == "\ufb58\ufbff\ufe8e\ufee1"  # Persian letters too
    assert shape("سَلام")[1] == "\u064e"  # a mark stays, and does not break the join
    assert shape("سَلام")[2] == "\ufee0"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("سلام دنیا", f"{DONYA_SHOWN} {SALAM_SHOWN}"),
        ("hi سلام!", f"hi {SALAM_SHOWN}!"),
        ("سلام 123 دنیا", f"{DONYA_SHOWN} 123 {SALAM_SHOWN}"),  # numbers keep their order
        ("سلام ۱۲۳", f"۱۲۳ {SALAM_SHOWN}"),  # a number after the words reads with them
        ("(سلام)", f"({SALAM_SHOWN})"),  # a pair of brackets, mirrored twice
        ("שלום 42 world", "42 םולש world"),  # Hebrew: reordered, nothing to shape
        ("a (سلام) b", f"a ({SALAM_SHOWN}) b"),
        ("plain text", "plain text"),
        ("emoji 👋 only", "emoji 👋 only"),
    ],
)
def test_right_to_left_runs_are_put_in_display_order(text, shown):
    assert visual(text) == shown


def test_the_view_reorders_only_where_tk_does_not():
    assert reorders_rtl("x11")
    assert reorders_rtl("win32")
    assert not reorders_rtl("aqua")  # Core Text does it itself
    # Shaped, still in reading order: the view orders each display line.
    assert displayable("سلام 😀", "bmp", rtl=True) == "\ufeb3\ufee0\ufe8e\ufee1 \ufffd"
    assert displayable("سلام", "all") == "سلام"


def test_a_long_message_costs_about_its_length():
    """Shaping is linear in the text (a 4 KiB message must not stall the GUI): ten
    times the text costs nowhere near a hundred times as much. A ratio of two timings
    of the same run, so that a busy machine does not fail it."""
    import time

    def cost(units: int) -> float:
        text = "سلام دنیا 123 " * units  # 300 units: 4096 bytes and more
        best = float("inf")
        for _ in range(3):
            started = time.process_time()
            visual(text)
            best = min(best, time.process_time() - started)
        return best

    assert cost(300) < 30 * cost(30)


# Persian words (one, two, ... five) and how each is shown.
WORDS = ["یک", "دو", "سه", "چهار", "پنج"]
SHOWN = [visual(word) for word in WORDS]


def test_each_display_line_is_put_in_order_on_its_own():
    line = "<bob> " + " ".join(WORDS)
    # Wrapped after the second word: the first display line holds the first two
    # words (read right to left), the next one the rest. Reversing the whole line
    # and then wrapping would show "five four three" on top.
    wrap = len("<bob> ") + len("یک دو ")
    shown = visual_lines([(line, "text")], [wrap])
    assert shown == [(f"<bob> {SHOWN[1]} {SHOWN[0]} {SHOWN[4]} {SHOWN[3]} {SHOWN[2]}", "text")]
    text = shown[0][0]
    assert text[:wrap].rstrip() == f"<bob> {SHOWN[1]} {SHOWN[0]}"
    # Unwrapped, it is the line's visual order.
    assert visual_lines([(line, "text")], []) == [(visual(line), "text")]


def test_each_character_keeps_its_style_when_reordered():
    parts = [("12:00 ", ("time",)), ("bob", ("nick",)), (" سلام 12 (دنیا)", ())]
    shown = visual_lines(parts, [])
    assert shown[:2] == [("12:00 ", ("time",)), ("bob", ("nick",))]
    assert "".join(text for text, _ in shown) == visual("12:00 bob سلام 12 (دنیا)")
    assert all(style == () for _, style in shown[2:])
