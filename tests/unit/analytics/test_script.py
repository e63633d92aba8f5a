from fazt.analytics.script import SOURCE, TAG, inject


def test_injects_before_head_end_whatever_the_case():
    html = b"<!doctype html><html><HEAD><title>x</title></HEAD><body>hi</body></html>"
    out = inject(html)
    assert out == html.replace(b"</HEAD>", TAG + b"</HEAD>")


def test_falls_back_to_body_end():
    assert inject(b"<p>hi</p></body>") == b"<p>hi</p>" + TAG + b"</body>"


def test_leaves_fragments_alone():
    assert inject(b"<h1>just a fragment</h1>") is None


def test_script_posts_to_its_own_origin_and_honours_dnt():
    assert b'"/_fazt/track"' in SOURCE
    assert b"doNotTrack" in SOURCE and b"globalPrivacyControl" in SOURCE
    assert b"cookie" not in SOURCE.lower() and b"localstorage" not in SOURCE.lower()
