"""NeMo export: a user turn with designed pauses is one `User` supervision (NeMo's user text
channel ends the turn at each supervision's end), spanning its parts with all their words."""

from datagen.export.nemo import to_nemo_cut


def test_paused_turn_is_one_user_supervision(source):
    paused = [c for c in source.values() if any(s.kind == "pause_part" for s in c.sups)]
    assert paused
    for c in paused:
        nemo = to_nemo_cut(c, 16000)
        parts = [s for s in c.sups if s.kind == "pause_part"]
        for turn in {s.turn for s in parts}:
            mine = [s for s in parts if s.turn == turn]
            users = [
                s
                for s in nemo.supervisions
                if s.speaker == "User"
                and s.start < max(p.end for p in mine)
                and s.end > min(p.start for p in mine)
            ]
            assert len(users) == 1, (c.id, turn, [(s.start, s.end) for s in users])
            u = users[0]
            assert abs(u.start - min(p.start for p in mine)) < 1e-3
            assert abs(u.end - max(p.end for p in mine)) < 1e-3
            assert len(u.alignment["word"]) == sum(len(p.words) for p in mine)
            assert u.text.split() == " ".join(p.heard_text for p in mine).split()
