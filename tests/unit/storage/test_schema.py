"""The 002 migration: storage tables exist and deleting a site deletes its storage."""

import base64

from fazt.hosting import deployments


def counts(db, app):
    def run(c):
        return [
            c.execute(f"SELECT COUNT(*) FROM {t} WHERE app = ?", (app,)).fetchone()[0]
            for t in ("app_kv", "app_documents", "app_objects")
        ]

    return db.read_sync(run)


def fill(st):
    st.kv_set("k", "1")
    st.ds_insert("c", '{"a": 1}')
    st.s3_put("p", base64.b64encode(b"x").decode())


def test_deleting_a_site_deletes_only_its_storage(db, st, other):
    fill(st)
    fill(other)
    assert counts(db, "app1") == [1, 1, 1]
    assert db.write_sync(deployments.delete_site, "app1") is True
    assert counts(db, "app1") == [0, 0, 0]
    assert counts(db, "app2") == [1, 1, 1]


def test_a_recreated_site_starts_with_empty_storage(db, st):
    fill(st)
    db.write_sync(deployments.delete_site, "app1")
    db.write_sync(deployments.ensure_site, "app1")
    assert st.kv_get("k") is None
    assert st.ds_count("c", "{}") == 0
    assert st.s3_get("p") is None
