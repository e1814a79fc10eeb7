"""Stand-in for NeMo's Parakeet ASR (GPU, model download): faster-whisper tiny.en on CPU,
answering in the shape FDB's asr.py reads (result.timestamp["word"] = [{word, start, end}])."""

import types

from datagen.qc.asr import _default_model_path


class _FW:
    def __init__(self):
        from faster_whisper import WhisperModel

        self.m = WhisperModel(_default_model_path(), device="cpu", compute_type="int8", cpu_threads=2)

    def cuda(self):
        return self

    def transcribe(self, paths, timestamps=True):
        out = []
        for p in paths:
            segs, _ = self.m.transcribe(p, word_timestamps=True, language="en", beam_size=1, vad_filter=False)
            words = [
                {"word": w.word.strip(), "start": w.start, "end": w.end}
                for s in segs
                for w in (s.words or [])
            ]
            out.append(types.SimpleNamespace(timestamp={"word": words}))
        return out


class ASRModel:
    @staticmethod
    def from_pretrained(model_name=None):
        return _FW()


models = types.SimpleNamespace(ASRModel=ASRModel)
