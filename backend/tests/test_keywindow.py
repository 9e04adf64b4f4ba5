"""KeyWindow (model/keywindow.py): a byte per recent key, compared with a dict of every key set."""

from hypothesis import given
from hypothesis import strategies as st

from dispymon.model.keywindow import KeyWindow


@given(
    size=st.integers(1, 64),
    steps=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 255)), max_size=200),
)
def test_the_newest_keys_read_back_what_was_set_and_older_ones_read_zero(size: int, steps: list) -> None:
    window = KeyWindow(size)
    model: dict[int, int] = {}
    key = 0
    newest = -1
    for gap, code in steps:
        key += gap  # keys mostly increase, as jobs' keys do...
        for k in (key, key - gap // 2):  # ...and a job may end after a newer one
            window.set(k, code)
            model[k] = code
            newest = max(newest, k)
    # the window keeps at least the newest half of its size
    for k in range(max(0, newest - size // 2 + 1), newest + 1):
        assert window.get(k) == model.get(k, 0)
    assert window.get(newest + 1) == 0 and window.get(-1) == 0
    assert window.nbytes == size  # never grows
