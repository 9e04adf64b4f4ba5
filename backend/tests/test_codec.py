import pytest
from hypothesis import given
from hypothesis import strategies as st

from dispymon.transport.codec import CodecError, decode, encode

values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(st.text(max_size=8), values, max_size=6))
def test_round_trip(body):
    msg = {**body, "type": "delta"}
    assert decode(encode(msg)) == msg


@pytest.mark.parametrize(
    "frame, reason",
    [
        (b"\xc1", "not a msgpack frame"),  # reserved, never valid
        (b"\x93\x01\x02\x03", "must be a msgpack map"),  # a list
        (encode({"seq": 1}), "string 'type'"),
        (encode({"type": 5}), "string 'type'"),
        (b"", "not a msgpack frame"),
    ],
)
def test_bad_frames_raise_codec_error(frame, reason):
    with pytest.raises(CodecError, match=reason):
        decode(frame)


def test_oversized_frame_is_refused():
    with pytest.raises(CodecError):
        decode(encode({"type": "x", "pad": "a" * 5000}), max_len=1000)
