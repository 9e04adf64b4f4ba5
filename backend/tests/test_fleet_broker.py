"""The broker URL: parsed, shown and logged without its password; a wrong one stops the start in one line."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from redis import exceptions as redis_errors

from conftest import REPO
from dispymon.fleet.broker import BrokerError, check, check_program, parse
from fleettools import RedisServer, free_port

SECRET = "s3cr%40t-pw"  # %-encoded '@' in the URL: the password is "s3cr@t-pw"


def test_parse_and_show_without_the_password() -> None:
    b = parse(f"rediss://alice:{SECRET}@cache.example:6380/2")
    assert (b.scheme, b.host, b.port, b.db, b.username, b.password) == (
        "rediss", "cache.example", 6380, 2, "alice", "s3cr@t-pw",
    )  # fmt: skip
    assert b.shown == "rediss://alice:***@cache.example:6380/2"
    assert "s3cr" not in repr(b)
    said = b.redact(f"Error connecting to rediss://alice:{SECRET}@cache.example:6380/2 with s3cr@t-pw")
    assert "s3cr" not in said and "***" in said
    assert parse("redis://localhost").port == 6379 and parse("redis://localhost").db == 0


@pytest.mark.parametrize(
    "url",
    ["", "http://host:6379/0", "redis://:pw@/0", "redis://host:99999/0", "redis://user:pw@host:6379/zero"],
)
def test_bad_urls_are_one_line_errors_without_the_password(url: str) -> None:
    with pytest.raises(BrokerError) as err:
        parse(url)
    message = str(err.value)
    assert "\n" not in message and "pw@" not in message


def test_program_names() -> None:
    assert check_program("lab-A.2_x") == "lab-A.2_x"
    for bad in ("", "a b", "x" * 65, "a/b", None):
        with pytest.raises(BrokerError):
            check_program(bad)


async def test_refused_login_and_no_server_are_one_line(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis", password="right-pw").start()
    try:
        await check(parse(server.url))  # the right password: connects
        with pytest.raises(BrokerError) as err:
            await check(parse(f"redis://default:wrong-pw@127.0.0.1:{server.port}/0"))
        assert "refused the login" in str(err.value) and "wrong-pw" not in str(err.value)
        with pytest.raises(BrokerError) as err:
            await check(parse(f"redis://127.0.0.1:{server.port}/0"))
        assert "needs a password" in str(err.value) or "refused" in str(err.value)
    finally:
        server.stop()
    with pytest.raises(BrokerError) as err:
        await check(parse(f"redis://u:topsecret@127.0.0.1:{free_port()}/0"))
    assert "cannot be reached" in str(err.value) and "topsecret" not in str(err.value)


def test_serve_with_a_refused_login_exits_with_one_line(tmp_path: Path, env_without_coverage: dict) -> None:
    server = RedisServer(tmp_path / "redis", password="right-pw").start()
    try:
        url = f"redis://default:wrong-pw@127.0.0.1:{server.port}/0"
        done = subprocess.run(
            [sys.executable, "-m", "dispymon", "serve", "--broker", url, "--port", "0"],
            cwd=REPO, env=env_without_coverage, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    finally:
        server.stop()
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "refused the login" in lines[0], done.stderr
    assert "wrong-pw" not in done.stderr + done.stdout


async def test_connections_redis_closed_while_idle_work_when_it_is_back(tmp_path: Path) -> None:
    """After a Redis outage, a client's pooled connections (closed by Redis while they sat idle)
    are replaced as they are handed out: no command fails once Redis answers again. With redis-py
    8's default "maintenance notifications" on, the pool skipped that check and each stale
    connection failed once ("Connection closed by server"): a central said the broker was
    unreachable again a second after it came back."""
    server = RedisServer(tmp_path / "redis").start()
    client = parse(server.url).client()
    try:
        # four connections in the pool, as a central's concurrent loops hold
        await asyncio.gather(*(client.xread({"s": "$"}, block=100) for _ in range(4)))
        server.stop()
        with pytest.raises(redis_errors.ConnectionError):  # the outage, as a central's loops meet it
            await client.ping()
        server.start()  # the same port, a new process
        failures = []
        for _ in range(2):
            answers = await asyncio.gather(*(client.xread({"s": "$"}, block=100) for _ in range(4)),
                                           return_exceptions=True)  # fmt: skip
            failures += [f"{type(a).__name__}: {a}" for a in answers if isinstance(a, BaseException)]
        assert failures == []
    finally:
        await client.aclose()
        server.stop()
