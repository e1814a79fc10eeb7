"""The model's turn state, from its own `<shift>`s: listening, speaking, and (with
`backbone.pre_voice_blocks`) speaking before its voice has begun.

Its own module because training (the fed-back track, `states_of`) and streaming
(one dialogue's decisions so far, `turn_state`) must compute the same state.
"""

from __future__ import annotations

import torch


def states_of(tokens: torch.Tensor, shift: int, pre_voice_blocks: int) -> torch.Tensor:
    """(B, n) token ids -> (B, n) the state when each block begins, from the <shift>s
    before it: their parity (speaking or not) and how long ago the last one was."""
    shifts = (tokens == shift).long()
    speaking = (shifts.cumsum(1) - shifts) % 2
    if not pre_voice_blocks:
        return speaking.long()
    at = torch.arange(tokens.shape[1], device=tokens.device).expand_as(tokens)
    last = torch.where(shifts.bool(), at, -1).cummax(1).values  # the last <shift> at or before b
    before = torch.cat([torch.full_like(last[:, :1], -1), last[:, :-1]], 1)  # ... before b
    return turn_state(speaking, at - before, pre_voice_blocks)


def turn_state(speaking: torch.Tensor, since_speak: torch.Tensor, pre_voice_blocks: int) -> torch.Tensor:
    """0 listening, 1 speaking, 2 speaking within `pre_voice_blocks` blocks of its
    speak-<shift> (0: never 2).

    Why a third state: a speak-<shift> starts the voice `synth_delay_s` later, and
    a short cue's text is fed back within that delay; so in those blocks the model
    is speaking, hears itself silent and reads `<think>`, exactly as after its cue
    has ended, where it should stop. Trained to stop there, it stopped before its
    voice began as well (a "blip before the voice": tools/cue_outcomes.py)."""
    speaking = speaking.long()
    if not pre_voice_blocks:
        return speaking
    return speaking + (speaking.bool() & (since_speak <= pre_voice_blocks)).long()
