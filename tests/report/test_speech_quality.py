"""The report's speech-quality section: DNSMOS (speechmos's real models) on a real corpus."""

import re
import shutil
import sys

from datagen.qc.dnsmos import MIN_SECONDS
from datagen.report.collect import collect
from datagen.report.html import build_report, render_html
from datagen.report.speech_quality import speech_quality


def test_the_report_scores_a_sample_of_each_role(local_corpus, tmp_path):
    copy = tmp_path / "c"
    shutil.copytree(local_corpus, copy)  # built without the DNSMOS threshold: any corpus works
    summary = collect(copy)
    sq = speech_quality(summary, per_role=1)  # ~3 s of CPU per utterance of 2-4.5 s
    long_enough = {}
    for row in summary.rows:
        for _, role, _, _, start, end in row.supervisions:
            if end - start >= MIN_SECONDS:
                long_enough[role] = long_enough.get(role, 0) + 1
    assert sq.eligible == long_enough and {"user", "assistant"} <= set(sq.roles())
    for role in sq.roles():
        us = sq.by_role(role)
        assert len(us) == 1 < long_enough[role] and all(u.seconds >= MIN_SECONDS for u in us)
        assert all(1.0 <= u.mos[k] <= 5.0 for u in us for k in ("sig", "bak", "ovrl", "p808"))
    assert sq.failed == [] and sq.note == ""

    page = render_html(summary, max_timelines=0, quality=sq)
    section = page[page.index("id='speech-quality'") : page.index("id='histograms'")]
    assert "<th>OVRL</th>" in section and "--dnsmos-utts" in section
    assert section.count("<img ") == 1  # the per-role histograms
    for u in sq.scored:  # the same sample, utterance by utterance
        assert f"<td>{u.id}</td>" in section
    rows = re.findall(
        r"<tr><td>(user|third_party|assistant)</td><td class=\"n\">(\d+) of (\d+)</td>", section
    )
    assert {r: int(n) for r, n, _ in rows} == {r: len(sq.by_role(r)) for r in sq.roles()}


def test_no_dnsmos_says_why(local_corpus, monkeypatch, tmp_path):
    copy = tmp_path / "c"
    shutil.copytree(local_corpus, copy)
    page = build_report(copy, max_timelines=0, vad_cuts=0, dnsmos_utts=0).read_text(encoding="utf-8")
    assert "id='speech-quality'" in page and "not computed (--dnsmos-utts 0)" in page
    summary = collect(copy)
    monkeypatch.setitem(sys.modules, "speechmos", None)  # import speechmos -> ImportError
    sq = speech_quality(summary, 2)
    assert sq.scored == [] and "pip install -e '.[qc]'" in sq.note
