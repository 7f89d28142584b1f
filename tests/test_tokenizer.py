"""The Japanese tokenizer behind the lexical index (real SudachiPy, core dictionary)."""

from __future__ import annotations

import threading

import pytest

from knowledge.tokenizer import MAX_PIECE_BYTES, JapaneseTokenizer, split_for_sudachi

SUDACHI_LIMIT_BYTES = 49_149


@pytest.fixture(scope="module")
def tokenizer() -> JapaneseTokenizer:
    return JapaneseTokenizer()


def test_particles_auxiliaries_and_symbols_are_dropped(tokenizer: JapaneseTokenizer) -> None:
    terms = tokenizer.tokenize("在宅医療と介護の連携について、報告しました。")
    assert {"在宅", "医療", "介護", "連携", "報告"} <= set(terms)
    assert not {"と", "の", "に", "て", "た", "ます", "、", "。"} & set(terms)


def test_compounds_yield_their_short_units_too(tokenizer: JapaneseTokenizer) -> None:
    assert tokenizer.tokenize("研修会") == ["研修会", "研修", "会"]
    assert [(word.term, word.parts) for word in tokenizer.words("説明会")] == [("説明会", ("説明", "会"))]
    assert [(word.term, word.parts) for word in tokenizer.words("医療")] == [("医療", ())]


def test_in_home_care_and_collaboration_terms(tokenizer: JapaneseTokenizer) -> None:
    passage = set(tokenizer.tokenize("大阪市在宅医療・介護連携推進事業"))
    assert set(tokenizer.tokenize("在宅医療")) <= passage
    assert set(tokenizer.tokenize("介護連携")) <= passage


def test_normalised_forms(tokenizer: JapaneseTokenizer) -> None:
    assert tokenizer.tokenize("取組み") == tokenizer.tokenize("取り組み")
    assert tokenizer.tokenize("ｺｰﾃﾞｨﾈｰﾀｰ") == tokenizer.tokenize("コーディネーター")


def test_acronyms_survive_lower_cased(tokenizer: JapaneseTokenizer) -> None:
    assert "acp" in tokenizer.tokenize("ACPの取組み")
    assert tokenizer.tokenize("ＡＣＰ") == tokenizer.tokenize("ACP") == ["acp"]


def test_numbers_survive(tokenizer: JapaneseTokenizer) -> None:
    assert "91.5" in tokenizer.tokenize("回収率は91.5%でした")
    assert "43" in tokenizer.tokenize("区担当者43名")
    assert tokenizer.tokenize("９月19日") == ["9", "月", "19", "日"]
    assert tokenizer.tokenize("2023-09-19") == ["2023", "9", "19"]


def test_spaces_inside_japanese_words_from_pdf_extraction_are_ignored(tokenizer: JapaneseTokenizer) -> None:
    assert tokenizer.tokenize("採 用 月") == tokenizer.tokenize("採用月")
    assert tokenizer.tokenize("在宅医\n\n療") == tokenizer.tokenize("在宅医療")
    assert tokenizer.tokenize("ACP 43") == ["acp", "43"]


@pytest.mark.parametrize("text", ["", "   \n\t", "？！・…（）", "、。「」"])
def test_empty_or_symbol_only_text_gives_no_terms(tokenizer: JapaneseTokenizer, text: str) -> None:
    assert tokenizer.tokenize(text) == []
    assert tokenizer.words(text) == []


def test_ten_kilobyte_query(tokenizer: JapaneseTokenizer) -> None:
    query = "多職種研修会の目的は何ですか。" * 250  # ~11 KB
    assert len(query.encode()) > 10_000
    assert tokenizer.tokenize(query).count("目的") == 250


def test_text_over_sudachis_limit_is_tokenised_whole(tokenizer: JapaneseTokenizer) -> None:
    line = "在宅医療と介護の連携について報告します。\n"
    text = line * 1700  # ~100 KB, twice Sudachi's limit
    assert len(text.encode()) > 2 * SUDACHI_LIMIT_BYTES
    assert tokenizer.tokenize(text) == tokenizer.tokenize(line) * 1700


def test_a_single_huge_line_without_punctuation_does_not_fail(tokenizer: JapaneseTokenizer) -> None:
    text = "介護" * 30_000  # 180 KB, no line or sentence boundary at all
    assert tokenizer.tokenize(text)


@pytest.mark.parametrize(
    "text",
    ["短い文。", "あいう\n" * 20_000, "文。" * 30_000, "𠮷" * 20_000, "a" * 100_000 + "\n" + "い" * 5],
)
def test_split_for_sudachi_keeps_text_and_respects_the_limit(text: str) -> None:
    pieces = split_for_sudachi(text)
    assert "".join(pieces) == text
    assert all(len(piece.encode()) <= MAX_PIECE_BYTES < SUDACHI_LIMIT_BYTES for piece in pieces)


def test_threads_get_the_same_terms(tokenizer: JapaneseTokenizer) -> None:
    texts = ["新任コーディネーターへの支援", "北ブロックの研修会の講師の所属", "回収率は91.5%"]
    expected = [tokenizer.tokenize(t) for t in texts]
    results: list[list[list[str]]] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            results.append([tokenizer.tokenize(t) for t in texts * 50][: len(texts)])
        except BaseException as error:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert results == [expected] * 4


def test_nouns_are_the_long_unit_nouns_without_numerals(tokenizer: JapaneseTokenizer) -> None:
    nouns = [word.term for word in tokenizer.noun_words("札幌市の多職種研修会の講師は2名ですか")]
    assert {"札幌市", "研修会", "講師"} <= set(nouns)
    assert not {"2", "の", "は", "です", "か", "研修"} & set(nouns)
    assert tokenizer.noun_words("？") == []
    # adverbial nouns and a counter after an interrogative numeral say nothing about the topic
    assert [word.term for word in tokenizer.noun_words("だいたい何パーセントですか")] == []


def test_proper_nouns_and_place_names(tokenizer: JapaneseTokenizer) -> None:
    assert tokenizer.place_names("吹田市の研修会で田村先生が話した") == ["吹田市"]
    assert set(tokenizer.proper_nouns("吹田市の研修会で田村先生が話した")) == {"吹田市", "田村"}
    # an address is one long unit to Sudachi, but names a city and a ward that documents name apart
    assert tokenizer.proper_nouns("大阪市鶴見区は何ブロックですか") == ["大阪市", "鶴見区"]
    assert tokenizer.place_names("名古屋市千種区の相談窓口") == ["名古屋市", "千種区"]
    assert tokenizer.proper_nouns("安佐南区の報告会") == ["安佐南区"]


def test_words_carry_sudachi_synonym_groups(tokenizer: JapaneseTokenizer) -> None:
    """決まり and 規則 share a synonym group in Sudachi's dictionary; 研修 and 駐車場 do not."""
    rule, regulation = tokenizer.words("決まり")[0], tokenizer.words("規則")[0]
    assert set(rule.synonyms) & set(regulation.synonyms)
    training, parking = tokenizer.words("研修")[0], tokenizer.words("駐車場")[0]
    assert not set(training.synonyms) & set(parking.synonyms)
    assert "決まり" in tokenizer.tokenize("決まり") and not any(t.startswith("≈") for t in tokenizer.tokenize("決まり"))
