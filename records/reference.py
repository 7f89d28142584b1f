"""Fixed reference data: the 24 wards (区) of Osaka City, in the city's official order."""

from __future__ import annotations

CITY_NAME = "大阪市"

OSAKA_WARDS: tuple[str, ...] = (
    "北区", "都島区", "福島区", "此花区", "中央区", "西区", "港区", "大正区",
    "天王寺区", "浪速区", "西淀川区", "淀川区", "東淀川区", "東成区", "生野区", "旭区",
    "城東区", "鶴見区", "阿倍野区", "住之江区", "住吉区", "東住吉区", "平野区", "西成区",
)


def ward_aliases(ward: str) -> tuple[str, ...]:
    """Other ways a ward is written: 大阪市北区, 北区役所, and the bare stem (北) is deliberately excluded."""
    return (f"{CITY_NAME}{ward}", f"{ward}役所", ward)
