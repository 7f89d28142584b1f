"""I/O-free unit tests of the assistant's parts."""

from __future__ import annotations

import pytest

from assistant.citations import locate
from assistant.understanding import find_wards, understand
from assistant.vocabulary import vocabulary
from knowledge.retriever import reciprocal_rank_fusion


@pytest.mark.parametrize(
    ("message", "intent", "kind", "blocks", "attributes"),
    [
        ("南ブロックの多職種研修会はどこで開かれますか", "record", "block_training", ["南ブロック"], ["venue"]),
        ("北ブロックの研修会の講師の所属は？", "record", "block_training", ["北ブロック"], ["affiliation", "lecturer"]),
        ("西ブロックにはどの区が含まれますか", "record", None, ["西ブロック"], ["members", "which_wards"]),
        ("多職種研修会の目的は何ですか", "how_to", "block_training", [], []),
        ("ほかの区ではACPをどう広めていますか", "peer_practice", None, [], []),
        ("こんにちは", "greeting", None, [], []),
    ],
)
def test_understanding(message: str, intent: str, kind: str | None, blocks: list[str], attributes: list[str]) -> None:
    u = understand(message)
    assert (u.intent, u.event_kind, u.blocks) == (intent, kind, blocks)
    assert set(attributes) <= set(u.attributes)


def test_wards_longest_first_and_venues_are_not_wards() -> None:
    assert find_wards("東淀川区と淀川区と西淀川区") == ["東淀川区", "淀川区", "西淀川区"]
    assert find_wards("住吉区民センターで開催") == []


@pytest.mark.parametrize(
    ("question", "focus"),
    [
        ("多職種研修会の目的は何ですか", "目的"),
        ("合同研修会のアンケートの回収率は", "回収"),
        ("第2部は何人参加しましたか", "参加"),
    ],
)
def test_focus_term(question: str, focus: str) -> None:
    assert vocabulary().focus(question) == focus


def test_rrf_prefers_items_ranked_well_by_both() -> None:
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["b", "d", "e"]])
    assert [item for item, _ in fused][:3] == ["b", "a", "d"]
    assert dict(fused)["b"] == pytest.approx(1 / 62 + 1 / 61)


def test_locate_exact_and_across_mended_whitespace() -> None:
    text = "・ 採 用 月 ・・・健康局より事業の概要を説明\n令和5年4月24日（月）"
    assert locate("健康局より", text) == (text.index("健康局"), text.index("健康局") + 5)
    start, end = locate("採用月・・・健康局", text)  # type: ignore[misc]
    assert text[start:end] == "採 用 月 ・・・健康局"
    assert locate("札幌市", text) is None


@pytest.mark.parametrize(
    ("message", "intent"),
    [
        ("今後の研修会への要望にはどんなものがありますか", "how_to"),  # 今後 + 研修会, but about what was said
        ("今日のブロック研修はどこですか", "record"),
        ("次のブロック研修はいつ？", "record"),
        ("南ブロックの講師はどこの先生ですか", "record"),  # a block alone implies its training
    ],
)
def test_record_or_passage_routing(message: str, intent: str) -> None:
    assert understand(message).intent == intent


def test_venues_and_dates_name_an_event() -> None:
    u = understand("住吉区民センターで開かれる研修の講師は？", venues=["東成区民センター", "住吉区民センター"])
    assert (u.venue, u.intent) == ("住吉区民センター", "record")
    u = understand("９月28日の研修はどのブロックですか")
    assert (u.month_days, u.intent) == ([(9, 28)], "record")
