"""Counter-based randomness: every random draw is a pure function of (seed, stream, index, counter).

A device's stochastic response on its k-th pulse is ``normal(seed, STREAM, device_id, k)``, so the
golden training run and the testbench's behavioural array give identical conductances whatever order
the hardware applies pulses in (docs/ARCHITECTURE.md, "Bit-true conventions"). The mixer is splitmix64 (Steele et al., 2014),
vectorised over numpy uint64 arrays; uniforms take the top 53 bits, normals go through the inverse
normal CDF (one uniform per normal, so each draw is independent of how many were drawn before).
"""
from __future__ import annotations

import numpy as np
from scipy.special import ndtri

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)


def splitmix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser of ``x + golden`` (uint64 in, uint64 out, wrapping arithmetic).

    Works on arrays (0-d included): ufunc integer arithmetic wraps silently, so no ``np.errstate``
    is needed (it costs more than the hash itself on single draws).
    """
    z = np.add(np.asarray(x, dtype=np.uint64), _GOLDEN)
    z = np.multiply(z ^ (z >> _S30), _M1)
    z = np.multiply(z ^ (z >> _S27), _M2)
    return z ^ (z >> _S31)


def hash64(seed: int, stream: int, index, counter) -> np.ndarray:
    """64-bit hash of (seed, stream, index, counter); ``index`` and ``counter`` broadcast."""
    key = splitmix64(np.uint64(seed & 0xFFFFFFFFFFFFFFFF) ^ splitmix64(np.uint64(stream)))
    h = splitmix64(key ^ np.asarray(index, dtype=np.uint64))
    return splitmix64(h ^ splitmix64(np.asarray(counter, dtype=np.uint64)))


def uniform(seed: int, stream: int, index, counter) -> np.ndarray:
    """Uniform float64 in the open interval (0, 1)."""
    h = hash64(seed, stream, index, counter)
    return ((h >> np.uint64(11)).astype(np.float64) + 0.5) * (1.0 / (1 << 53))


def normal(seed: int, stream: int, index, counter) -> np.ndarray:
    """Standard normal float64 draws."""
    return ndtri(uniform(seed, stream, index, counter))


#: 1 / std of the sum of four uniform 16-bit integers: ``sqrt(3 / (2**32 - 1))`` correctly rounded
Z_SCALE = float.fromhex("0x1.bb67ae86627e8p-16")
#: mean of the sum of four uniform 16-bit integers (4 * 65535 / 2)
Z_MEAN = 131070
_F16 = np.uint64(0xFFFF)


def normal_exact(seed: int, stream: int, index, counter) -> np.ndarray:
    """Approximately standard normal float64 draws, computed with integers and one exact multiply.

    Irwin-Hall of order 4: the four 16-bit fields of ``hash64(seed, stream, index, counter)`` are
    summed (an integer ``s`` in 0 .. 4 * 65535), centred and scaled: ``z = (s - 131070) * Z_SCALE``.
    Mean 0 and variance 1 (up to the rounding of ``Z_SCALE``); ``|z| <= sqrt(12) = 3.46``; kurtosis
    2.7 (normal: 3). No ``log``/``cos``/``ndtri``: the same bits on every machine and numpy build.
    A pure function of its arguments; ``index`` and ``counter`` broadcast.
    """
    return normal_of_hash(hash64(seed, stream, index, counter))


def line_hash(seed: int, stream: int, index) -> np.ndarray:
    """The part of :func:`hash64` that depends on ``index`` only (cache it for repeated counters)."""
    key = splitmix64(np.uint64(seed & 0xFFFFFFFFFFFFFFFF) ^ splitmix64(np.uint64(stream)))
    return splitmix64(key ^ np.asarray(index, dtype=np.uint64))


def normal_exact_parts(line: np.ndarray, counter) -> np.ndarray:
    """:func:`normal_exact` from ``line = line_hash(seed, stream, index)`` and the counters (broadcast)."""
    return normal_of_hash(splitmix64(line ^ splitmix64(np.asarray(counter, dtype=np.uint64))))


def normal_of_hash(h: np.ndarray) -> np.ndarray:
    """The Irwin-Hall draw of :func:`normal_exact` from its 64-bit hash ``h``."""
    s = (h & _F16) + ((h >> np.uint64(16)) & _F16) + ((h >> np.uint64(32)) & _F16) + (h >> np.uint64(48))
    return (s.astype(np.int64) - Z_MEAN).astype(np.float64) * Z_SCALE


# Streams used across the project; a new use of randomness takes a new number here.
STREAM_PULSE_MEAN = 1       # cycle-to-cycle noise of a programming pulse
STREAM_PULSE_SWITCH = 2     # binary devices: does this pulse switch?
STREAM_DEVICE = 3           # device-to-device spread (counter = parameter index)
STREAM_READ = 4             # read noise (counter = read index)
STREAM_INIT = 5             # initial conductance
STREAM_BNN = 16             # BNN: bridge resistances, SA noise (counter = op index)
STREAM_VARIABILITY = 32     # variability LUT study
STREAM_EMULATOR = 64        # boards/emulated_array.py: the synthesizable array's LFSR seeds
STREAM_MVM = 128            # MVM read path: read noise of a sensed line (golden.mvm.read_path)
