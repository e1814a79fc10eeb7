"""Stand-in for numba on the offline GPU machine only (bench/cosyvoice2_gpu.sh).

numba's wheel needs llvmlite's (57 MiB), over the 64 MiB that can be carried
there. CosyVoice's load and inference import numba without calling anything
it compiles: `whisper` imports it for word timestamps (whisper/timing.py) and
`librosa.util` decorates helpers CosyVoice never calls (it uses
`librosa.filters.mel` and Whisper's log-mel). The decorators here return the
function unchanged. The GPU script puts this folder on the path only when
`import numba` fails; `make test` and every other environment use real numba.
"""


def _decorator(*args, **kwargs):
    if len(args) == 1 and callable(args[0]) and not kwargs:
        return args[0]
    return lambda fn: fn


jit = njit = vectorize = guvectorize = stencil = generated_jit = _decorator
prange = range


class _Types:
    def __getattr__(self, name):
        return _Types()

    def __call__(self, *a, **k):
        return _Types()

    def __getitem__(self, item):
        return _Types()


types = _Types()
float32 = float64 = int32 = int64 = boolean = void = types
