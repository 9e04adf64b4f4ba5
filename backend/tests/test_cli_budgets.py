"""The budget options: sizes as bytes or with units, 0 only for resubmission, --history-bytes needs --history-db."""

from __future__ import annotations

import argparse

import pytest

from dispymon.entry.cli import _settings, build_parser, main, size
from dispymon.transport.security import Access


@pytest.mark.parametrize("text, expected", [
    ("65536", 65536), ("0", 0), ("64MiB", 64 * 2**20), ("64 MiB", 64 * 2**20), ("1G", 10**9),
    ("1GiB", 2**30), ("1.5GiB", 3 * 2**29), ("500kB", 500_000), ("2KiB", 2048), ("10b", 10), ("3m", 3_000_000),
])  # fmt: skip
def test_sizes(text, expected):
    assert size(text) == expected


@pytest.mark.parametrize("text", ["", "MiB", "-1", "1.2.3", "12 apples", "nan", "inf", "1e30", "64 MiBs"])
def test_bad_sizes_are_refused(text):
    with pytest.raises(argparse.ArgumentTypeError):
        size(text)


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["serve", "--cluster-module", "app.py", *argv])


def test_defaults_and_given_budgets_reach_the_settings():
    s = _settings(parse())
    assert (s.outputs_budget, s.resubmit_budget, s.history_bytes) == (64 * 2**20, 64 * 2**20, 256 * 2**20)
    s = _settings(parse("--outputs-budget", "1MiB", "--resubmit-budget", "0", "--history-db", "x.db",
                        "--history-bytes", "1G"))  # fmt: skip
    assert (s.outputs_budget, s.resubmit_budget, s.history_bytes) == (2**20, 0, 10**9)
    config = s.server_config(access=Access())
    assert (config.outputs_budget, config.resubmit_budget, config.history_bytes) == (2**20, 0, 10**9)


def test_zero_is_refused_for_outputs_and_history_bytes(capsys):
    for option in ("--outputs-budget", "--history-bytes"):
        with pytest.raises(SystemExit) as exc:
            parse(option, "0", "--history-db", "x.db")
        assert exc.value.code == 2
        assert "must be more than 0 bytes" in capsys.readouterr().err


def test_history_bytes_without_history_db_is_an_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["serve", "--cluster-module", "app.py", "--history-bytes", "1G"])
    assert exc.value.code == 2
    assert "--history-bytes needs --history-db" in capsys.readouterr().err
