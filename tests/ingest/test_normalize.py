"""clean_text / search_form on real snippets of the sample report."""

from __future__ import annotations

import re
from pathlib import Path

from ingest.normalize import clean_text, search_form

SAMPLE = Path(__file__).resolve().parents[2] / "corpus" / "sample" / "osaka_r5_zaitaku_renkei_progress.txt"

VISION = (
    "めざすべき将来像に向けての局の取組み\n\n"
    "医療と介護の両方を必要とする状態の高齢者が、住み慣れた地域で自分ら\n\n"
    "しい暮らしを人生の最期まで続けることができるよう、多職種協働により在宅医\n\n"
    "療と介護を一体的に提供できる体制が構築されている。\n\n"
    "大阪市における在宅医療・介護連携推進事業のめざすべき将来像\n"
    " 取組み１ 事業の進捗管理\n"
)

BLOCKS = (
    "【開催日・場所・講師】\n\n北ブロック\n\n日時・場所\n\n講 師\n\n東ブロック\n\n日時・場所\n\n講 師\n\n"
    "： 北区、都島区、淀川区、東淀川区、旭区\n"
    "： 令和５年９月19日（火） 14：00～17：00 中央区民センター\n\n"
    "： 医療法人 学縁会 おおさか往診クリニック 理事長 田村 学 先生\n\n"
)


def test_joins_a_sentence_wrapped_over_blank_lines() -> None:
    cleaned = clean_text(VISION)
    assert (
        "医療と介護の両方を必要とする状態の高齢者が、住み慣れた地域で自分らしい暮らしを人生の最期まで"
        "続けることができるよう、多職種協働により在宅医療と介護を一体的に提供できる体制が構築されている。"
    ) in cleaned.split("\n")


def test_titles_and_headings_stay_on_their_own_lines() -> None:
    lines = clean_text(VISION).split("\n")
    assert "めざすべき将来像に向けての局の取組み" in lines
    assert "大阪市における在宅医療・介護連携推進事業のめざすべき将来像" in lines
    assert "取組み１ 事業の進捗管理" in lines  # indentation dropped, line kept


def test_label_and_value_lines_survive() -> None:
    lines = [line for line in clean_text(BLOCKS).split("\n") if line]
    expected = [line.strip() for line in BLOCKS.split("\n") if line.strip()]
    assert lines == expected


def test_wrapped_bullet_is_joined_but_next_bullet_is_not() -> None:
    raw = (
        "・会議の形式を変え、これまでの沈黙の時間がある会議から思いを引き出せそうだと感じた。出席者が仲良く\n\n"
        "なれるよう考えながらすすめていきたい\n\n"
        "・意見を出し合うのではなく、意見を出すのが苦手な人でも発言できるよう紙に書きだすことは貴重な方法で\n\n"
        "あると感じた。\n\n"
        "・多職種研修会を開催する際に活かせると感じた\n"
    )
    assert clean_text(raw).split("\n") == [
        "・会議の形式を変え、これまでの沈黙の時間がある会議から思いを引き出せそうだと感じた。出席者が仲良くなれるよう考えながらすすめていきたい",
        "",
        "・意見を出し合うのではなく、意見を出すのが苦手な人でも発言できるよう紙に書きだすことは貴重な方法であると感じた。",
        "",
        "・多職種研修会を開催する際に活かせると感じた",
    ]


def test_no_join_after_sentence_end_date_line_or_section_break() -> None:
    ended = "・今年度から区のワーキング会議をロの字型からグループ形式に変更し、個々がしゃべりやすくなっている。\n\n今回の研修を実践できているようである。"
    assert clean_text(ended) == ended
    dated = "・３か月まで・・・先輩コーディネーターより事業の実際について説明\n\n令和５年６月27日（火）"
    assert clean_text(dated) == dated
    section_break = "・毎月コーディネーター連絡会を開催し、トピックスの提供やコーディネーター間の情報共有を実施\n\n\n\n区役所実務者、在宅医療・介護連携支援コーディネーター合同研修会"
    assert clean_text(section_break).count("\n") == 2  # blank run collapsed, lines not joined


def test_short_option_lines_are_not_joined() -> None:
    raw = "そう思う\n\nややそう思う\n\nあまりそう思わない\n\nそう思わない\n\n0% 20% 40% 60% 80% 100%\n\nその他"
    assert clean_text(raw) == raw


def test_single_newline_wrap_is_joined() -> None:
    raw = "・各区においてめざすべき姿に向けて「抽出された課題」、「目標設定」、「課題\n解決に向けた対応策」についての具体的内容を把握"
    assert clean_text(raw) == raw.replace("\n", "")


def test_newlines_trailing_spaces_and_blank_runs() -> None:
    raw = "一行目  \r\n\r\n\r\n\r\n二行目\t\r三行目\n\n\n"
    assert clean_text(raw, join_broken_lines=False) == "一行目\n\n二行目\n三行目"


def test_authored_line_structure_is_kept_when_joining_is_off() -> None:
    raw = "医療と介護の両方を必要とする状態の高齢者が、住み慣れた地域で自分ら\n\nしい暮らし"
    assert clean_text(raw, join_broken_lines=False) == raw


def test_whole_sample_loses_no_characters() -> None:
    raw = SAMPLE.read_text(encoding="utf-8")
    cleaned = clean_text(raw)
    squash = lambda s: re.sub(r"\s+", "", s)  # noqa: E731
    assert squash(cleaned) == squash(raw)
    assert "\n\n\n" not in cleaned
    assert "自分らしい暮らし" in cleaned
    assert "相談支援室の周知を図り" in cleaned
    # structure lines of the block-training table are still lines of their own
    lines = cleaned.split("\n")
    assert lines.count("講 師") == 4
    assert "： 令和５年10月５日（木） 14：00～17：00 住吉区民センター" in lines


def test_search_form_is_nfkc() -> None:
    assert search_form("令和５年９月19日 ｺｰﾃﾞｨﾈｰﾀｰ （ACP）") == "令和5年9月19日 コーディネーター (ACP)"
