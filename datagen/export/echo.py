"""Take our assistant's echo out of channel 0, for inputs a benchmark plays to another model.

Channel 0 of an echo dialogue holds the user, third parties, noise and our
assistant's voice as its own loudspeaker leaked it into the microphone
(datagen/timeline/mix.py: channel 1, delayed by `echo_delay_s`, through the
room's loudspeaker->microphone response, times `echo_gain`). A benchmark's
input is what the *user side* says: the model under test makes its own voice,
and Full-Duplex-Bench runs a VAD over `input.wav` to time the user's speech, so
an echo there is heard as a user who never stops.

The echo is a linear, time-invariant filter of channel 1, which we have
exactly, so it is cancelled the way an echo canceller does, with the
reference known: the filter (from just before the recorded delay to
`IR_S` after it) is the least-squares fit of channel 0 from channel 1 over the
stretches where nobody else speaks (no channel-0 supervision within
`MARGIN_S`), solved as Wiener-Hopf equations (Toeplitz, Levinson), then the
fitted echo is subtracted everywhere. The residual is measured and returned, so
a caller can say how far down the echo went (docs/exports.md gives figures).
"""

from __future__ import annotations

import numpy as np

IR_S = 0.7  # filter length after the direct path: the simulated rooms' RT60 is at most 0.6 s
PRE_S = 0.004  # taps before the recorded delay (its ms rounding, the response's pre-ringing)
CG_STEPS = 30  # refinement steps on the exact equations (_refine)
MARGIN_S = 0.2  # fit only where channel-0 speech is at least this far away
RIDGE = 1e-4  # diagonal loading, relative to the reference's energy per tap


def echo_free_mask(n: int, sr: int, speech: list[tuple[float, float]]) -> np.ndarray:
    """Samples where channel 0 holds no user / third-party speech (echo and noise only)."""
    m = np.ones(n, dtype=bool)
    for s, e in speech:
        m[max(0, int((s - MARGIN_S) * sr)) : max(0, int((e + MARGIN_S) * sr))] = False
    return m


def fit_echo(env: np.ndarray, ref: np.ndarray, sr: int, delay_s: float, mask: np.ndarray) -> np.ndarray:
    """The echo in `env` predicted from `ref`: least squares over `mask`, a filter of taps
    delay_s - PRE_S .. delay_s + IR_S."""
    from scipy.linalg import solve_toeplitz
    from scipy.signal import fftconvolve

    n = len(env)
    d0 = max(0, int(round((delay_s - PRE_S) * sr)))
    taps = int(round((IR_S + PRE_S) * sr))
    x = np.zeros(n, np.float64)
    x[d0:] = ref[: n - d0]  # the reference moved to the filter's first tap
    y = np.where(mask, env, 0.0).astype(np.float64)
    xm = np.where(mask, x, 0.0)
    if not np.any(xm):
        return np.zeros(n, np.float32)
    nfft = 1 << int(np.ceil(np.log2(n + taps)))
    fx = np.fft.rfft(x, nfft)
    fxm = np.fft.rfft(xm, nfft)
    # r_xx[k] ~ sum_t m(t) x(t) x(t-k) (the masked autocorrelation, taken as Toeplitz),
    # r_xy[k] = sum_t m(t) y(t) x(t-k)
    rxx = np.fft.irfft(fxm * np.conj(fx), nfft)[:taps]
    rxy = np.fft.irfft(np.fft.rfft(y, nfft) * np.conj(fx), nfft)[:taps]
    rxx[0] += RIDGE * rxx[0] + 1e-12
    h = solve_toeplitz(rxx, rxy)
    h = _refine(h, fx, mask, y, n, nfft, taps, RIDGE * rxx[0])
    return fftconvolve(x, h)[:n].astype(np.float32)


def _refine(h0, fx, mask, y, n, nfft, taps, ridge):
    """Conjugate gradients on the exact masked normal equations, from the Toeplitz solution:
    near the mask's edges the masked autocorrelation is not Toeplitz, and that error alone
    caps the cancellation at 10-20 dB; a few FFT-priced iterations take it to 30-60 dB."""
    from scipy.sparse.linalg import LinearOperator, cg

    def ata(h):
        e = np.fft.irfft(fx * np.fft.rfft(h, nfft), nfft)[:n] * mask
        return np.fft.irfft(np.fft.rfft(e, nfft) * np.conj(fx), nfft)[:taps] + ridge * h

    b = np.fft.irfft(np.fft.rfft(y, nfft) * np.conj(fx), nfft)[:taps]
    h, _ = cg(LinearOperator((taps, taps), matvec=ata, dtype=np.float64), b, x0=h0, maxiter=CG_STEPS)
    return h


def remove_echo(
    env: np.ndarray, ref: np.ndarray, sr: int, delay_s: float, speech: list[tuple[float, float]]
) -> tuple[np.ndarray, dict]:
    """`env` without the echo of `ref`, and how much of it went: the echo-only stretches'
    level before and after, in dB (`erle_db` is the drop)."""
    mask = echo_free_mask(len(env), sr, speech)
    echo = fit_echo(env, ref, sr, delay_s, mask)
    out = (env - echo).astype(np.float32)
    before = _db(env[mask])
    after = _db(out[mask])
    return out, {
        "echo_db": round(before, 1),
        "residual_db": round(after, 1),
        "erle_db": round(before - after, 1),
    }


def _db(x: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(np.square(x, dtype=np.float64)) + 1e-12)) if len(x) else -120.0
