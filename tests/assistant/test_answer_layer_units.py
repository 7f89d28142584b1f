"""Units of the learned answer layer: answer types from data, places taken out of the question, the fitted
model's file format, and how the lines of an answer are composed."""

from __future__ import annotations

import json

import numpy as np
import pytest

from api.bench.fitting import fit_logistic, middle_of_best_run
from assistant.answer_model import AnswerModel, Composition, LinearModel, load_answer_model
from assistant.evidence import units_of
from assistant.extractive import (
    LINE_FEATURES,
    Candidate,
    _asked_above,
    counted_numbers,
    gather_evidence,
    label_answers,
    line_label,
    made_of,
    select,
    terms_of,
    without_places,
)
from assistant.service import refusal
from assistant.understanding import proper_nouns
from assistant.vocabulary import vocabulary
from ingest.pipeline import IngestRun
from knowledge.retriever import hybrid_search
from knowledge.types import Chunk


@pytest.mark.parametrize(
    ("question", "kind", "line"),
    [
        ("研修会には何人来ましたか", "count", "当日は63名の参加があった。"),
        ("参加費はいくらですか", "amount", "参加費：無料"),
        ("満足と答えた人は何パーセント？", "percentage", "満足 38名（44.2％）"),
        ("返事はどのくらいでもらえますか", "duration", "3業務日以内に電話でお知らせします。"),
        (
            "相談したら何日くらいで返事が来ますか",
            "duration",
            "原則として3営業日以内にご連絡します。",
        ),  # not 何日: a date
        ("研修の申込みは何日前までですか", "duration", "開催日の7日前までにお申し込みください。"),
        ("委員は何年で交代しますか", "duration", "委員の任期は2年とし、再任を妨げない。"),
        ("次の研修は何日ですか", "date", "次回は11月18日（土）に開催します。"),
        ("受付は何時までですか", "time", "受付は午前8時45分から午後5時15分まで"),
        ("個人情報は第何条に書いてありますか", "article", "第８条 個人情報の取扱い"),
        ("センターのメールアドレスを教えて", "email", "E-mail：renkei-c@example.lg.jp"),
        ("窓口の電話番号は何番ですか", "phone", "電話：０６－６８５８－２２００（平日9時～17時）"),
        ("会場へはどの駅で降りればいいですか", "access", "地下鉄南北線「桜通駅」から徒歩5分"),
        ("出前講座は何人以上集まれば頼めますか", "count_bound", "10名以上の集まりであればお申込みいただけます。"),
        ("協議会の委員は最大で何人までですか", "count_bound", "協議会は、委員15人以内で組織する。"),
        ("申込みの締め切りはいつですか", "deadline", "申込みは6月30日（金）までにFAXで。"),
        ("基調講演の講師は誰ですか", "person", "基調講演　川上 直人 氏（済生会吹田病院）"),
        (
            "会議を傍聴したいときは、どうやって申し込めばいいですか",
            "procedure",
            "傍聴は当日先着10名まで、受付でお申し出ください。",
        ),
        (  # どこ asks for an organisation as well as a site
            "相談の仕事はどこに任せているのですか",
            "place",
            "市長は、事業の全部又は一部を、一般社団法人○○市医師会に委託することができる。",
        ),
        (
            "救急のときに持っていくシートは何という名前ですか",
            "name",
            "救急搬送時には「あんしん連携シート」を持参する。",
        ),
    ],
)
def test_answer_types_come_from_the_vocabulary_file(question: str, kind: str, line: str) -> None:
    answer_type = vocabulary().answer_type(question)
    assert answer_type is not None and answer_type.name == kind
    assert answer_type.found_in(line)
    assert not answer_type.found_in("医療と介護の連携を進める。")


def test_only_the_place_every_document_is_about_leaves_the_question() -> None:
    titles = ["令和5年度 吹田市 多職種研修会 開催報告", "吹田市在宅医療・介護連携支援センター設置要綱"]
    assert "吹田市" not in without_places("吹田市の研修会には何人来ましたか", titles)
    # a ward that is one of many inside the city's report tells its lines apart: it stays
    assert "鶴見区" in without_places("鶴見区は何ブロックですか", ["大阪市 在宅医療・介護連携推進事業 進捗報告"])
    # a question that is nothing but the place keeps it
    assert without_places("吹田市は？", titles) == "吹田市は？"


def test_the_model_file_round_trips(tmp_path) -> None:
    line = LinearModel(("a", "b"), np.array([0.0, 1.0]), np.array([1.0, 2.0]), np.array([2.0, -1.0]), 0.5)
    model = AnswerModel(
        line, line, 0.3, Composition(1, 0.8, 2, 300), Composition(0, 0.9, 3, 420, 2), frozenset({"amount"})
    )
    path = tmp_path / "model.json"
    path.write_text(json.dumps(model.to_json({"fitted": "test"})), encoding="utf-8")
    again = load_answer_model(path)
    rows = np.array([[1.0, 3.0], [0.0, 0.0]])
    assert np.allclose(again.line.probabilities(rows), line.probabilities(rows))
    assert again.composition_for("参加費はいくら") == Composition(1, 0.8, 2, 300)
    assert again.composition_for("どんな取組みをしていますか") == Composition(0, 0.9, 3, 420, 2)
    assert again.strict_answer_types == frozenset({"amount"})


def test_an_address_the_question_names_in_parts_is_no_key_word() -> None:
    names = {"横浜市", "港北区"}
    assert made_of("横浜市港北区", names) and made_of("港北区", names)
    assert not made_of("港北区役所", names) and not made_of("研修会", names)


def test_the_support_threshold_sits_in_the_middle_of_the_best_run() -> None:
    cuts = [0.0, 0.2, 0.4, 0.6, 0.8]
    # cut points 0.4 and 0.6 score best: any threshold in (0.2, 0.6] does, the middle is 0.4
    assert middle_of_best_run(cuts, [5, 6, 7, 7, 6]) == (2, 0.4)
    assert middle_of_best_run(cuts, [7, 6, 7, 7, None]) == (0, 0.0)  # the first best run: refuse nothing
    assert middle_of_best_run(cuts, [None, 3, None, 5, None]) == (3, 0.5)  # a forbidden cut ends a run
    assert middle_of_best_run(cuts, [None] * 5) is None


def test_logistic_fit_learns_which_feature_answers() -> None:
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(400, 2))
    labels = rows[:, 0] > 0.5
    model = fit_logistic(rows, labels, ("useful", "noise"))
    assert abs(model.coef[0]) > 5 * abs(model.coef[1])
    assert model.probabilities(np.array([[2.0, 0.0]]))[0] > 0.9 > 0.1 > model.probabilities(np.array([[-2.0, 0.0]]))[0]


TEXT = "【参加者】\n医師 12名\n看護師 20名\n介護支援専門員 27名\n【感想】\n・よかった"


def _candidates(probabilities: list[float]) -> list[Candidate]:
    chunk = Chunk("c1", "doc.txt", TEXT, 0, len(TEXT))
    units = units_of(chunk, 0)
    return [
        Candidate(unit, np.zeros(len(LINE_FEATURES)), frozenset(), probability)
        for unit, probability in zip(units, probabilities, strict=True)
    ]


def test_a_heading_brings_the_lines_under_it_and_no_further() -> None:
    ranked = sorted(_candidates([0.9, 0.2, 0.2, 0.2, 0.1, 0.1]), key=lambda c: -c.probability)
    selection = select(ranked, Composition(0, 1.01, 0, 300))
    assert selection is not None
    assert [unit.text for unit in selection.units] == ["【参加者】", "医師 12名", "看護師 20名", "介護支援専門員 27名"]


def test_close_runners_up_join_within_the_budget() -> None:
    ranked = sorted(_candidates([0.1, 0.9, 0.2, 0.85, 0.1, 0.1]), key=lambda c: -c.probability)
    joined = select(ranked, Composition(0, 0.9, 2, 300))
    alone = select(ranked, Composition(0, 0.99, 2, 300))
    assert joined is not None and alone is not None
    assert [unit.text for unit in joined.units] == ["医師 12名", "介護支援専門員 27名"]  # in document order
    assert [unit.text for unit in alone.units] == ["医師 12名"]


# --- mechanisms of the second round (document shapes of the field, not words of one report) ------------------


def test_a_fact_noun_asks_for_its_type_only_as_the_word_asked_about() -> None:
    vocab = vocabulary()
    place = vocab.answer_type("相模原のセンターの場所は？")
    assert place is not None and place.name == "place"
    # 窓口 is what the question is about here, not what it asks for: a duration is asked
    asked = vocab.answer_type("千種区の窓口に相談したら、返事が来るまでどれくらいかかりますか")
    assert asked is not None and asked.name == "duration"
    assert vocab.answer_type("講師の説明の内容を教えてください") is None
    assert vocab.answer_type("窓口ではどんな相談を受けていますか") is None
    # interrogatives ask wherever they stand
    who = vocab.answer_type("講演したのは誰ですか")
    assert who is not None and who.name == "person"


def test_a_count_in_words_is_a_count() -> None:
    count = vocabulary().answer_type("委員が何人そろえば会議を開けますか")
    assert count is not None and count.found_in("会議は、委員の過半数が出席しなければ開くことができない。")


def test_table_cells_join_the_label_of_their_row() -> None:
    text = "職種\n人数\n医師\n6名\n7.1％\n研修全体の満足度\n93.7％\n13:30～13:40\n開会"
    chunk = Chunk("c1", "doc.pdf", text, 100, 100 + len(text))
    units = units_of(chunk, 0)
    assert [u.text for u in units] == [
        "職種",
        "人数",
        "医師\n6名\n7.1％",
        "研修全体の満足度\n93.7％",
        "13:30～13:40",
        "開会",
    ]
    for unit in units:  # still exact spans of the document, so citations hold
        assert text[unit.start - 100 : unit.end - 100] == unit.text


def test_sentences_are_not_cut_inside_a_parenthesis() -> None:
    line = "市は、在宅医療・介護連携支援センター（以下「センター」という。）を置き、その運営に関し必要な事項を定めるものとする。次に進む。"
    chunk = Chunk("c1", "rules.txt", line, 0, len(line))
    assert [u.text for u in units_of(chunk, 0)] == [line[: line.index("次")], "次に進む。"]


def test_counted_numbers_tell_rows_apart() -> None:
    assert counted_numbers("令和５年度は何冊配ったの？") == {"5年度"}
    assert counted_numbers("令和6年度2回目はいつ") == counted_numbers("令和6年度 第2回 推進会議") == {"6年度", "2回"}
    assert counted_numbers("1,975冊") == frozenset()


def test_a_date_names_its_fiscal_year() -> None:
    # April–March: the report meeting of 令和7年3月 belongs to 令和6年度, not to the 令和7年度 asked about
    assert "6年度" in counted_numbers("日時：令和7年3月8日（土）") and "7年度" not in counted_numbers("令和7年3月8日")
    assert "7年度" in counted_numbers("令和７年４月１日から施行する")
    assert not any(n.endswith("年度") for n in counted_numbers("4月24日"))  # no year, no fiscal year


def test_label_lines() -> None:
    assert line_label("会場：港北区役所 1階") == "会場"
    assert line_label("【講師】山田 花子 氏") == "講師"
    assert line_label("問合せ：") is None  # a label without its value
    assert line_label("第1条 この要綱は") is None
    assert label_answers("参加者", ["参加者数"]) and not label_answers("会場", ["参加者数"])


def test_qa_page_lines_know_the_question_above_them() -> None:
    text = "Q1. 誰が相談できますか。\nA1. 市内の専門職です。\nQ2. 相談にお金はかかりますか。\nA2. 無料です。\n問い合わせ：市役所"
    units = units_of(Chunk("c1", "faq.txt", text, 0, len(text)), 0)
    assert [u.is_question for u in units] == [True, False, True, False, False]
    asked = _asked_above(units, np.array([0.5, 0.0, 2.0, 0.0, 0.0]))
    assert asked.tolist() == [0.0, 0.5, 0.0, 2.0, 2.0]


def test_a_best_line_that_is_the_pages_question_brings_its_answer() -> None:
    text = "Q2. 相談にお金はかかりますか。\nA2. 相談料はかかりません。\nQ3. 受付時間は？\nA3. 平日9時から17時です。"
    units = units_of(Chunk("c1", "faq.txt", text, 0, len(text)), 0)
    candidates = [
        Candidate(unit, np.zeros(len(LINE_FEATURES)), frozenset(), p)
        for unit, p in zip(units, [0.9, 0.3, 0.2, 0.1], strict=True)
    ]
    selection = select(candidates, Composition(0, 1.01, 0, 300))
    assert selection is not None
    assert [u.text for u in selection.units] == ["Q2. 相談にお金はかかりますか。", "A2. 相談料はかかりません。"]


def test_an_era_is_not_a_name_and_a_facility_is_named_whole() -> None:
    assert proper_nouns("長野市の相談件数は令和5年度でどれだけ？") == ["長野市"]
    assert "城南中央病院" in proper_nouns("城南中央病院の地域連携室に相談したい")
    assert proper_nouns("旭川市医師会に委託") == ["旭川市"]  # 医師会 is no facility head: the city names it


def test_a_refusal_names_where_it_looked_not_a_stray_section() -> None:
    text = refusal((), ["豊中市在宅医療・介護連携支援センター設置要綱", "吹田市 多職種研修会 報告", "三つ目"])
    assert text.startswith("ご質問の内容について、取り込まれた資料には記載が見つかりません。")
    assert "『豊中市在宅医療・介護連携支援センター設置要綱』『吹田市 多職種研修会 報告』" in text
    assert "三つ目" not in text
    assert refusal(("札幌市",), []) == "「札幌市」について、取り込まれた資料には記載が見つかりません。"


@pytest.mark.parametrize(
    ("question", "yes_no"),
    [
        ("相模原市の連携支援センターに車で行きたいのですが、駐車場は使えますか", True),
        ("港北区の研修の講演を録画で後から見ることはできますか", True),
        ("相模原のセンターの場所は？", False),  # a kind of fact is asked for
        ("早良区の出前講座は令和5年度に何回あった？", False),  # an interrogative
        ("豊中市のセンターの開所時間を教えてください", False),  # not a question ending in か
        ("どんな取組みをしていますか", False),
        ("相談窓口はいつも予約が要りますか", True),  # いつも asks nothing, いつ would
        ("相談窓口はいつ開いていますか", False),
        ("補助金はいつもらえますか", False),
        ("駐車場はいつも空いていますか", True),
        ("窓口はどうぞ自由にお使いくださいと書いてありますか", True),  # どうぞ is no どう: not a list either
    ],
)
def test_yes_or_no_questions(question: str, yes_no: bool) -> None:
    assert vocabulary().asks_yes_or_no(question) is yes_no


def test_a_bound_or_a_deadline_is_not_answered_by_any_count_or_date() -> None:
    bound = vocabulary().answer_type("出前講座は何人以上集まれば申し込めますか")
    assert bound is not None and not bound.found_in("講演会には412名が来場した。")
    deadline = vocabulary().answer_type("体験研修の申し込みの締め切りはいつ？")
    assert deadline is not None and not deadline.found_in("令和7年7月頃に開催する予定。")
    assert not deadline.found_in("9時30分から12時まで")  # an end time is not a deadline
    assert deadline.found_in("講座を希望する日の1か月前までにお申し込みください。")
    assert deadline.found_in("6月30日(月)午後5時15分までにFAXで")
    assert deadline.found_in("7月末日まで")
    assert bound.found_in("定員は30名です") and bound.found_in("5名から申し込めます")


@pytest.mark.parametrize(
    ("kind", "line"),
    [
        ("person", "開設日又は開設時間を変更するときは"),  # Sudachi tags 日又 as a surname
        ("person", "参加者の皆様へ"),
        ("person", "以下の様式により届け出る。"),
        ("person", "医師会の先生方にご協力いただいた。"),
        ("access", "9時30分から12時まで"),
        ("access", "救急車で搬送されたとき"),
        ("email", "メールでお問い合わせください。"),
        ("phone", "電話でお問い合わせください。"),
        ("deadline", "9時30分から12時まで"),
    ],
)
def test_lines_that_are_no_instance(kind: str, line: str) -> None:
    answer_type = next(t for t in vocabulary().answer_types if t.name == kind)
    assert not answer_type.found_in(line)


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("交通費は出ますか", "amount"),  # not access: 交通費 is not 交通
        ("補助金はいつもらえる？", "date"),  # a word that asks says more than the noun
        ("何番目に発表しましたか", None),  # an order, not a phone number
        ("講師の名前は何ですか", "person"),
        ("会長の名前を教えてください", "person"),
        ("講師のお名前を教えてください", "person"),
        ("手続きにはどのくらい時間がかかりますか", "duration"),
        ("申し込むにはどうすればいいですか", "procedure"),
        ("申請の仕方を教えて", "procedure"),
        ("telを教えて", "phone"),
        ("定員は何人ですか", "count_bound"),
        ("アンケートには何人から回答がありましたか", "count"),
        ("7月末日までに出せばいいですか", None),
    ],
)
def test_which_type_a_question_asks_for(question: str, kind: str | None) -> None:
    answer_type = vocabulary().answer_type(question)
    assert (answer_type.name if answer_type else None) == kind


@pytest.mark.parametrize("question", ["担当者に直接会えますか", "会長は毎年変わりますか", "住所が市外でも使えますか"])
def test_a_yes_or_no_question_after_another_verb_stays_yes_or_no(question: str) -> None:
    assert vocabulary().asks_yes_or_no(question)


def test_a_person_is_a_name_not_a_role() -> None:
    who = vocabulary().answer_type("協議会の会長は誰がやっていますか")
    assert who is not None and who.name == "person"
    assert who.found_in("会長　森下 佳代子")  # Sudachi's 人名: a surname and a given name
    assert who.found_in("座長：大野委員")  # a surname and a title
    assert who.found_in("講師：藤田先生")
    assert not who.found_in("会長は、委員の互選により定める。")
    # a person's name is asked for; a thing's name, or a form that has a name on it, is not
    named = vocabulary().answer_type("窓口の相談員さんたちの名前を教えてください")
    assert named is not None and named.name == "person"
    thing = vocabulary().answer_type("町で様式をそろえたシートは何ていう名前？")
    assert thing is None or thing.name != "person"
    form = vocabulary().answer_type("利用者さんの名前入りの用紙をFAXするとき、気をつけることは？")
    assert form is None or form.name != "person"


def test_a_question_without_an_interrogative_asks_about_its_last_noun() -> None:
    vocab = vocabulary()
    assert vocab.focus("吹田市の多職種研修会って、出るのに参加費はかかったの？") == "参加費"
    fee = vocab.answer_type("新潟市の研修会って、出るのにお金はかかるの？")
    assert fee is not None and fee.name == "amount"


@pytest.mark.parametrize("held_out", ["field-check", "field-check2", "field-check3"])
def test_the_held_out_sets_are_never_fitted_on(tmp_path, held_out: str) -> None:
    from api.bench.fitting import fit_answer_model
    from knowledge.config import Settings

    with pytest.raises(ValueError, match="never tuned on"):
        fit_answer_model([], tmp_path, Settings(), tune_sets=("field-tune", held_out))


def test_the_unit_a_question_counts_in_narrows_its_answer_type() -> None:
    times = vocabulary().answer_type("協議会は1年に何回集まりますか")
    assert times is not None and times.name == "count"
    assert times.found_in("会議は年3回開く。") and not times.found_in("出席委員：14名")
    people = vocabulary().answer_type("研修会には何人来ましたか")
    assert people is not None and people.found_in("参加者：86名") and not people.found_in("第2回を開いた。")
    places = vocabulary().answer_type("何か所の病院で試すのですか")
    assert places is not None and places.found_in("区内の2病院で試行する。")
    anything = vocabulary().answer_type("配ったのは何部ですか")  # no narrowing: the type's own pattern
    assert anything is not None and anything.found_in("1,200部を配布した。")


def test_how_many_yen_asks_for_an_amount() -> None:
    amount = vocabulary().answer_type("訪問診療を受けると、1か月に何円くらい払いますか")
    assert amount is not None and amount.name == "amount" and not amount.found_in("訪問診療は月2回です。")


REPORT = """令和6年度 みなと市 看取り多職種研修会 実施報告

【開催概要】
本研修は、看取りに関わる職種が互いの役割を知ることをねらいとした。
日時：令和6年9月7日（土）13時30分～16時30分
会場：みなと市保健センター 3階 大会議室
講師：訪問看護ステーションあかね 所長 藤原 美樹 氏
参加者：86名
"""


def test_a_line_reads_the_heading_above_it_and_its_documents_title(tmp_path, kb_factory) -> None:
    """The 参加者 line of a labelled block repeats neither the training nor its heading: both are its context."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "minato_kenshu.txt").write_text(REPORT, encoding="utf-8")
    kb, _ = kb_factory(corpus)
    IngestRun(kb).run([corpus])
    question = "看取りの研修会の開催概要で、参加者は何人でしたか"
    evidence = gather_evidence(kb, question, hybrid_search(kb, question, k=5))
    count = next(c for c in evidence.candidates if c.unit.text == "参加者：86名")
    assert terms_of("看取り") <= count.evidence_terms  # from the document's title only
    assert terms_of("概要") <= count.evidence_terms  # from 【開催概要】, five lines above
    assert count.feature("context") > 0
