"""Litestream's log folded into replica position, lag and outages (lines as 0.5.17 writes)."""

from fazt.backup.replica_progress import (
    ReplicaProgress,
    lag_seconds,
    parse_line,
    stall_seconds,
)

T = "time=2026-12-06T16:41:{:06.3f}Z level=DEBUG "
SYNC = T + 'msg="replica sync" system=store db=t.db replica=s3 txid.replica={:016x} txid.db={:016x}'
UPLOAD = (
    T
    + 'msg="ltx file uploaded" system=store db=t.db replica=s3 level=0 '
    + "minTXID={:016x} maxTXID={:016x} size=208"
)
ERROR = (
    'time=2026-12-06T16:41:{:06.3f}Z level=ERROR msg="sync error" system=store '
    'error="operation error S3: PutObject, dial tcp 127.0.0.1:9: connect: connection refused"'
)
BASE = 1796575260.0  # 2026-12-06T16:41:00Z


def test_parse_line_reads_quoted_values_and_the_last_repeated_key():
    fields = parse_line(UPLOAD.format(1.5, 3, 3))
    assert fields["msg"] == "ltx file uploaded" and fields["maxTXID"] == "0000000000000003"
    assert fields["level"] == "0"  # level=DEBUG first, the LTX level last


def test_position_and_lag_follow_sync_and_upload():
    p = ReplicaProgress()
    assert lag_seconds(p.as_status(), None) is None  # nothing shipped yet: unknown
    p.feed(SYNC.format(0.5, 0, 1))  # replica at 0: still nothing shipped
    assert p.as_status()["replica_txid"] is None
    p.feed(SYNC.format(1.0, 0, 2))
    p.feed(UPLOAD.format(1.1, 1, 2))
    status = p.as_status()
    assert (status["db_txid"], status["replica_txid"]) == (2, 2)
    assert status["replicated_at"] == "2026-12-06T16:41:01.100000Z"
    assert lag_seconds(status, changed_at=BASE + 0.5, now=BASE + 3) == 0.0  # caught up
    # The database changed after Litestream's last look: waiting since that look at most.
    assert lag_seconds(status, changed_at=BASE + 2.0, now=BASE + 3) == 2.0
    p.feed(SYNC.format(4.0, 2, 3))  # seen at 4.0, not uploaded
    assert lag_seconds(p.as_status(), changed_at=None, now=BASE + 6) == 2.0
    p.feed(UPLOAD.format(4.2, 3, 3))
    assert lag_seconds(p.as_status(), changed_at=None, now=BASE + 6) == 0.0


def test_an_error_then_an_upload_is_a_recorded_outage():
    p = ReplicaProgress()
    p.feed(SYNC.format(1.0, 0, 1))
    p.feed(UPLOAD.format(1.1, 1, 1))
    assert p.feed(ERROR.format(5.0))
    assert p.feed(ERROR.format(6.0))
    status = p.as_status()
    assert status["down_since"] == "2026-12-06T16:41:05.000000Z"  # the first error
    assert "connection refused" in p.last_error and status["last_outage"] is None
    p.feed(UPLOAD.format(9.0, 2, 2))
    status = p.as_status()
    assert status["down_since"] is None
    assert status["last_outage"] == {
        "down_at": "2026-12-06T16:41:05.000000Z",
        "back_at": "2026-12-06T16:41:09.000000Z",
    }


def test_silence_marks_the_replica_down_since_its_last_sign_of_life():
    p = ReplicaProgress()
    assert not p.check_stalled(BASE + 100, 10)  # never alive: nothing to say
    p.feed(SYNC.format(1.0, 0, 1))
    p.feed(UPLOAD.format(1.5, 1, 1))
    assert not p.check_stalled(BASE + 11, 10)
    assert p.check_stalled(BASE + 12, 10)
    assert not p.check_stalled(BASE + 20, 10)  # already down: marked once
    assert p.as_status()["down_since"] == "2026-12-06T16:41:01.500000Z"
    p.feed(UPLOAD.format(30.0, 2, 2))
    assert p.as_status()["last_outage"]["back_at"] == "2026-12-06T16:41:30.000000Z"


def test_stall_seconds_is_five_sync_intervals_at_least_ten():
    assert stall_seconds("1s") == 10.0
    assert stall_seconds("10s") == 50.0
    assert stall_seconds("500ms") == 10.0
    assert stall_seconds("1m") == 300.0
    assert stall_seconds("weird") == 10.0
