"""Another city is a data change: the API's description and the wards route name the city of the municipality
file (``RENKEI_MUNICIPALITY_FILE``), not a city written in code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.paths import REPO

PROBE = """
import json
from api.app import DESCRIPTION
from api.routes.records import router
from records.reference import CITY_NAME, WARDS
summary = next(route.summary for route in router.routes if route.path.endswith("/wards"))
print(json.dumps({"city": CITY_NAME, "wards": list(WARDS), "description": DESCRIPTION, "summary": summary}))
"""


def _probe(env: dict[str, str]) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=True
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_the_api_names_the_city_of_the_municipality_file(tmp_path: Path) -> None:
    city_file = tmp_path / "city.yaml"
    city_file.write_text("city: 札幌市\nwards: [中央区, 北区, 東区]\n", encoding="utf-8")
    base = {key: value for key, value in os.environ.items() if key != "RENKEI_MUNICIPALITY_FILE"}
    sapporo = _probe({**base, "RENKEI_MUNICIPALITY_FILE": str(city_file)})
    assert sapporo["city"] == "札幌市" and sapporo["wards"] == ["中央区", "北区", "東区"]
    assert str(sapporo["description"]).lstrip().startswith("札幌市 ") and "大阪市" not in str(sapporo["description"])
    assert str(sapporo["summary"]).startswith("札幌市の")
    osaka = _probe(base)  # the packaged file
    wards = osaka["wards"]
    assert osaka["city"] == "大阪市" and isinstance(wards, list) and len(wards) == 24
    assert str(osaka["description"]).lstrip().startswith("大阪市 ")
