from dispymon.model.text import job_texts, safe_str


class Raises:
    def __str__(self):
        raise ValueError("no")


class Bytes:
    def __str__(self):
        return b"x"  # type: ignore[return-value]


class C:
    """The seed's example argument."""

    def __init__(self, s, i):
        self.s, self.i = s, i

    def __str__(self):
        return "C(%s, %.4f)" % (self.s, self.i)


def test_readable_objects_use_their_str():
    assert safe_str(C("3", 4.5)) == "C(3, 4.5000)"
    assert job_texts(7, (C("a", 1.0),), {"n": 5}, True) == ("7", "C(a, 1.0000)", "n=5")


def test_failing_str_gives_a_placeholder():
    assert safe_str(Raises()) == "<unprintable Raises: __str__ raised ValueError>"
    assert safe_str(Bytes()) == "<unprintable Bytes: __str__ raised TypeError>"
    assert job_texts(Raises(), (Raises(), 1), {}, True) == (
        "<unprintable Raises: __str__ raised ValueError>",
        "<unprintable Raises: __str__ raised ValueError>, 1",
        "",
    )


def test_huge_text_is_cut():
    out = safe_str("y" * 100_000)
    assert out.startswith("y" * 200) and out.endswith("… (100000 chars)") and len(out) < 230


def test_args_are_not_touched_when_hidden():
    assert job_texts("id", (Raises(),), {"k": Raises()}, False) == ("id", "", "")


def test_counts_read_as_plain_english():
    from dispymon.model.text import count_text

    assert [count_text(n, "CPU") for n in (0, 1, 2)] == ["0 CPUs", "1 CPU", "2 CPUs"]
    assert count_text(1, "job") == "1 job"
