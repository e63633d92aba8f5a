"""fazt.web.lazy: route handlers whose modules are imported at their first call."""

import asyncio
import subprocess
import sys

from fazt.web.lazy import LazyFunction, lazy_module


def _loaded_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys\nprint('\\n'.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return set(out.stdout.split())


def test_naming_a_handler_imports_nothing_calling_it_does():
    code = "from fazt.web.lazy import lazy_module\nf = lazy_module('colorsys').rgb_to_hsv"
    assert "colorsys" not in _loaded_after(code)
    assert "colorsys" in _loaded_after(code + "\nf(0.1, 0.2, 0.3)")


def test_a_lazy_function_answers_as_the_function_would():
    hsv = lazy_module("colorsys").rgb_to_hsv
    assert isinstance(hsv, LazyFunction)
    assert (hsv.__module__, hsv.__qualname__) == ("colorsys", "rgb_to_hsv")
    import colorsys

    assert hsv(0.2, 0.4, 0.4) == colorsys.rgb_to_hsv(0.2, 0.4, 0.4)
    assert hsv.__doc__ == LazyFunction.__doc__  # dunders are its own, never forwarded
    assert hsv.resolve() is colorsys.rgb_to_hsv


def test_attributes_and_coroutines_come_from_the_real_function():
    sleep = lazy_module("asyncio").sleep
    assert asyncio.run(sleep(0, result="done")) == "done"
    marked = lazy_module("fazt.admin.deploy_page").deploy_upload
    assert marked.multipart is True  # what fazt.admin.pages asks an upload view
    plain = lazy_module("fazt.admin.views").keys_page
    assert getattr(plain, "multipart", False) is False


def test_the_route_table_names_handlers_without_importing_them():
    loaded = _loaded_after("import fazt.server.routes")
    assert {"fazt.api.keys", "fazt.api.deploy", "fazt.admin.views"}.isdisjoint(loaded)
