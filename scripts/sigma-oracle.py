"""Converts Sigma rules with pySigma's ClickHouse backend: the reference the compiler is checked against.

Development only (see `npm run oracle:sigma`): prints one JSON object, file -> {"queries": [...]} or {"error": "..."}.
"""
import json
import pathlib
import sys

from sigma.backends.clickhouse.clickhouse import ClickhouseBackend
from sigma.collection import SigmaCollection

backend = ClickhouseBackend()
converted = {}
for path in sorted(pathlib.Path(sys.argv[1]).glob("*.yml")):
    try:
        converted[str(path)] = {"queries": backend.convert(SigmaCollection.from_yaml(path.read_text()))}
    except Exception as error:  # a rule the backend cannot convert is reported, not fatal
        converted[str(path)] = {"error": f"{type(error).__name__}: {error}"}
print(json.dumps(converted))
