"""The sync/async shared suite's ``api`` fixture (``chat``/``stream`` vs ``achat``/``astream``)
lives in tests/conftest.py, over ``tests/apis.py``, so tests/reliability runs through both APIs
too; the fault servers (``http_server``, ``ws_server``) are tests/conftest.py's as well. The
native asyncio transport needs no optional package: nothing here is skipped."""
