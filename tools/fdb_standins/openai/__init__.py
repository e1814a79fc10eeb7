"""Stand-in for the GPT judge (network): every rating 5. Ratings from it mean nothing."""

import types


class OpenAI:
    def __init__(self, **k):
        self.models = types.SimpleNamespace(list=lambda: [])
        self.chat = types.SimpleNamespace(completions=types.SimpleNamespace(create=self._create))

    def _create(self, **k):
        msg = types.SimpleNamespace(content="Analysis: stub.\nI would rate the AI's response as 5.")
        return types.SimpleNamespace(choices=[types.SimpleNamespace(message=msg)])
