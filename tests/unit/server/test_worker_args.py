"""The worker's command line (fazt.server.worker_main): read without argparse when it is
the one supervisors write, by argparse otherwise (help, errors)."""

import pytest

from fazt.server.worker_main import parse, parse_fully

LINES = [
    ["--host", "127.0.0.1", "--port", "8080"],
    ["--host", "::", "--port", "80", "--db", "/srv/fazt/data.db", "--ready-fd", "6"],
    [
        "--host",
        "0.0.0.0",
        "--port",
        "80",
        "--db",
        "d.db",
        "--ready-fd",
        "6",
        "--listen-fd",
        "4",
        "--extra-listen-fd",
        "7",
        "--extra-listen-fd",
        "8",
    ],
]


@pytest.mark.parametrize("argv", LINES)
def test_a_supervisors_command_line_reads_as_argparse_reads_it(argv):
    fast, full = parse(argv), parse_fully(argv)
    for name in ("host", "port", "db_path", "ready_fd", "listen_fd", "extra_listen_fd"):
        assert getattr(fast, name) == getattr(full, name), name


@pytest.mark.parametrize(
    "argv",
    [
        ["--host", "h"],
        ["--host", "h", "--port", "x"],
        ["--host", "h", "--port", "1", "--nope", "2"],
    ],
)
def test_anything_else_gets_argparses_error(argv, capsys):
    with pytest.raises(SystemExit) as exited:
        parse(argv)
    assert exited.value.code == 2
    assert "usage: fazt server worker" in capsys.readouterr().err
