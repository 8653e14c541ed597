"""Golden twin of :class:`hw.bnn_layer_engine.BnnLayerEngine`: one hidden BNN layer on a 2T2R array.

What the engine computes
------------------------
For each input image (``inputs`` bits) the engine produces one output bit per neuron ``j``, in words
of ``bank`` bits (neurons ``0 .. neurons-1`` in order). The array holds each neuron's *extended* weights (weights, then bias
cells, see :mod:`golden.spec.bnn_datapath_params` for the layout and
:meth:`golden.bnn.network.BnnModel.extended_weights`) as *programmed* bits: the ideal bits, or in
the hardware model's ``authors`` mode the bits with the static bridge errors of
:func:`golden.bnn.chip_model.weight_bit_errors` (:func:`programmed_bits`).

* **digital** mode: the engine reads the ``cells`` bridges of a neuron ``R = read_lanes`` at a time
  (multi-cell 2T2R pair reads through CrossbarAddressing: ``C = reads_per_neuron = ceil(cells/R)``
  reads per neuron, see :class:`golden.spec.bnn_datapath_params.BnnHwParams`), and :class:`XnorPopcount`
  decides ``popcount(XNOR(x_ext, w)) >= cells//2 + 1`` with ``x_ext = x`` followed by ``bias_cells`` ones: the bias cells realise the
  neuron's threshold exactly as in the analog array (a majority over ``N_tot`` odd cells), so no
  threshold memory is needed (:func:`digital_bits`).
* **analog** mode: the engine selects a bank's word line, drives the inputs and runs the
  SenseAmpSequencer; the macro's SAs decide. Their decisions are those of
  :meth:`golden.bnn.chip_model.BnnHardware.layer_bits` with image index = the image's position in the
  run (counter-based error injection: bit-identical in golden and testbench) (:func:`analog_bits`).
* **bias drive** (both modes): an image may carry ``bias_drive`` r in ``0 .. bias_cells`` (``x``
  payload ``cal = 1, ramp = r``; default ``bias_cells``: every bias row driven, ``cal = 0``): bias
  rows ``j < r`` are driven 1, the others 0 (``bias_in``, :func:`bias_drive_bits`). Analog: one step
  of the SA calibration ramp; its decisions are :meth:`golden.bnn.sa_calibration.CalibrationState.
  conversion` (noise counter = the conversion's position in the ramp). Digital: ``x_ext`` carries the
  same drive instead of ones, the ideal twin of that conversion.

Cycle model (:class:`BnnLayerEngineModel`)
-----------------------------------------
Cycle 0 is the first cycle the testbench drives; ``x`` and ``y`` follow the stream draw rules of
:mod:`golden.spec.handshake`. Per cycle ``t``:

* ``x`` is ready iff the engine is idle and every output word of the previous image has left through
  ``y`` (images never overlap); an image accepted in ``t`` starts in ``t+1`` with the mode ``analog``
  held during ``t``.
* Output words: the engine's output is one ``K``-bit word per bank (``K`` = ``bank``; bit ``k`` =
  neuron ``b*K + k``, the last bank's bits past neuron ``M-1`` are 0) through a FIFO of ``out_fifo``
  words. Credits = ``out_fifo`` minus words reserved (in flight or in the FIFO); a word is reserved
  when its bank's first neuron is started and freed when it leaves through ``y``.
* digital: a read is issued in every cycle of the image, except at the first read of a bank's first
  neuron when no credit is free. Read ``i`` of
  neuron ``j`` (slot ``k``) covers the bridges ``k*cells + i*R ..`` of the bank's row: ``R`` of them,
  the remaining ``cells - (C-1)*R`` for ``i = C-1``. Its bits arrive ``read_latency`` cycles later
  (``rd_valid``); in the cycle the neuron's last read arrives, its assembled word enters the
  popcount pipeline, the result comes out ``L`` cycles later (``L`` =
  :func:`golden.twins.xnor_popcount.popcount_latency` of ``cells``) and enters the word register at
  slot ``k``; with slot ``K-1`` (or neuron ``M-1``) the word is written to the FIFO in that cycle and
  can leave through ``y`` from the next cycle. The image is done in the cycle its last neuron enters
  the pipeline. Hence one neuron per ``C`` cycles while ``y`` keeps up.
* analog: bank ``b`` is requested from the pipelined :class:`SenseAmpSequencerModel` when a credit is
  free; the macro's ``sa_out`` in a conversion's first readout cycle is that bank's decisions. The
  response is always taken (``resp.ready`` = 1: the credit guarantees FIFO room) and written to the
  FIFO in the cycle it is taken. The image is done in the cycle the last bank's response is taken.
  Hence one bank per ``max(phase lengths)`` cycles while the credits last.
* ``y`` offers the FIFO head (:class:`OutWord`: ``word``, ``bits``, ``last`` = the layer's last bank).
* ``argmax`` (output layer, digital mode): every popcount also enters the ArgmaxUnit
  (:mod:`golden.twins.argmax_unit`) in the cycle it comes out of the popcount pipeline; the class is
  offered on ``cls`` from the cycle after the last neuron's, until taken; ``x`` is also not ready
  while a class waits.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from golden.spec.bnn_datapath_params import BnnHwParams
from golden.spec.handshake import SinkSide, SourceSide
from golden.twins.argmax_unit import ArgmaxOut
from golden.twins.sense_amp_sequencer import SenseAmpSequencerModel
from golden.twins.xnor_popcount import popcount_latency


@dataclass(frozen=True)
class OutWord:
    """One output transfer of the engine: the K decisions of bank ``word`` (bit k = neuron
    ``word*K + k``; bits past the layer's last neuron are 0), ``last`` on the layer's last bank."""

    word: int
    bits: int
    last: int


def words_to_bits(words: Iterable[OutWord], neurons: int, bank: int) -> np.ndarray:
    """uint8 ``[images, neurons]`` from the ``y`` words of whole images, in order (raises if the
    order or ``last`` is broken)."""
    words = list(words)
    banks = -(-neurons // bank)
    if len(words) % banks:
        raise AssertionError(f"{len(words)} output words: not a multiple of {banks} per image")
    out = np.zeros((len(words) // banks, banks * bank), dtype=np.uint8)
    for n, w in enumerate(words):
        i, b = divmod(n, banks)
        if w.word != b or w.last != int(b == banks - 1):
            raise AssertionError(f"output word {n}: word {w.word} last {w.last}, expected word {b}")
        if b == banks - 1 and w.bits >> (neurons - b * bank):
            raise AssertionError(f"output word {n}: bits {w.bits:#x} past the layer's last neuron")
        for k in range(bank):
            out[i, b * bank + k] = (w.bits >> k) & 1
    return out[:, :neurons]


# ---------------------------------------------------------------------------------------------
# array contents and the decisions of both modes
# ---------------------------------------------------------------------------------------------
def programmed_bits(ext_weights: np.ndarray, *, seed: int = 0, layer: int = 0,
                    bit_error: float = 0.0) -> np.ndarray:
    """uint8 ``[neurons, cells]`` programmed bridge states: ``w_ext ^ e`` with the static errors of
    :func:`golden.bnn.chip_model.weight_bit_errors` (the same draw the hardware model's ``authors``
    mode uses with ``HardwareConfig(seed, bit_error)``; ``bit_error = 0``: no errors)."""
    w = np.asarray(ext_weights, dtype=np.uint8)
    if bit_error == 0.0:
        return w.copy()
    from golden.bnn.chip_model import weight_bit_errors

    n, c = w.shape
    e = weight_bit_errors(seed, layer, np.arange(n)[:, None], np.arange(c)[None, :], bit_error)
    return (w.astype(bool) ^ e).astype(np.uint8)


def array_image(prog: np.ndarray, hw: BnnHwParams) -> np.ndarray:
    """uint8 ``[banks, bank*cells]``: the 2T2R array's synapse columns (unused slots hold 0)."""
    n, c = prog.shape
    if (n, c) != (hw.neurons, hw.cells):
        raise ValueError(f"array_image: weights {prog.shape}, parameters want ({hw.neurons}, {hw.cells})")
    out = np.zeros((hw.banks, hw.bank * c), dtype=np.uint8)
    for j in range(n):
        b, k = divmod(j, hw.bank)
        out[b, k * c:(k + 1) * c] = prog[j]
    return out


def bias_drive_bits(bias_cells: int, bias_drive: int | None = None) -> np.ndarray:
    """uint8 ``[bias_cells]``: the bias rows' drive, rows ``j < bias_drive`` 1 (None: all 1, normal operation)."""
    r = bias_cells if bias_drive is None else int(bias_drive)
    if not 0 <= r <= bias_cells:
        raise ValueError(f"bias_drive = {r} is out of range: allowed [0, {bias_cells}]")
    return (np.arange(bias_cells) < r).astype(np.uint8)


def extend_inputs(x_bits: np.ndarray, bias_cells: int, bias_drive: int | None = None) -> np.ndarray:
    """Inputs followed by the ``bias_cells`` bias-row drives (ones in normal operation,
    :func:`bias_drive_bits`)."""
    x = np.atleast_2d(np.asarray(x_bits, dtype=np.uint8))
    bias = np.broadcast_to(bias_drive_bits(bias_cells, bias_drive), (x.shape[0], bias_cells))
    return np.concatenate([x, bias], axis=1)


def majority_threshold(cells: int) -> int:
    """Threshold the digital path feeds XnorPopcount: a strict majority, ``cells//2 + 1``."""
    return cells // 2 + 1


def digital_bits(prog: np.ndarray, x_bits: np.ndarray, bias_cells: int, bias_drive: int | None = None) -> np.ndarray:
    """uint8 ``[images, neurons]``: ``popcount(XNOR(x_ext, prog)) >= cells//2 + 1``."""
    xe = extend_inputs(x_bits, bias_cells, bias_drive).astype(np.int64)
    p = np.asarray(prog, dtype=np.int64)
    cnt = xe @ p.T + (1 - xe) @ (1 - p).T
    return (cnt >= majority_threshold(p.shape[1])).astype(np.uint8)


def analog_bits(hardware, x_bits: np.ndarray, layer: int = 0, image_offset: int = 0) -> np.ndarray:
    """uint8 ``[images, neurons]`` SA decisions of :class:`golden.bnn.chip_model.BnnHardware` for images
    with global indices ``image_offset + i``."""
    x = np.atleast_2d(np.asarray(x_bits, dtype=np.uint8))
    idx = np.arange(len(x)) + image_offset
    return np.asarray(hardware.layer_bits(x, layer, idx), dtype=np.uint8)


# ---------------------------------------------------------------------------------------------
# cycle model
# ---------------------------------------------------------------------------------------------
class BnnLayerEngineModel:
    """Cycle-exact model of the engine with its array and analog macro.

    Parameters
    ----------
    hw : BnnHwParams
    array : uint8 ``[banks, bank*cells]``
        Programmed bits (:func:`array_image`), what a digital bridge read returns.
    analog : uint8 ``[images, neurons]``
        SA decisions per image (:func:`analog_bits`), what the macro returns in analog mode.
    """

    def __init__(self, hw: BnnHwParams, array: np.ndarray, analog: np.ndarray | None = None):
        self.hw = hw
        self.array = np.asarray(array, dtype=np.uint8)
        self.analog = analog
        self.lat = popcount_latency(hw.cells, hw.popcount_mode, hw.stage_levels)

    def run(self, images: Iterable[tuple[np.ndarray, int]], *, valid_gen: Iterator[bool] | None = None,
            ready_gen: Iterator[bool] | None = None, cls_ready_gen: Iterator[bool] | None = None,
            max_cycles: int = 50_000_000):
        """``images``: ``(x_bits, analog_mode)`` or ``(x_bits, analog_mode, bias_drive)`` (None: every
        bias row driven). Returns ``(accepted, outputs)``:
        ``[(cycle, image_index)]`` and ``[(cycle, OutWord)]``; with ``hw.argmax`` the ``cls`` transfers
        (``cls_ready_gen`` backpressure) are in :attr:`classes`, ``[(cycle, ArgmaxOut)]``."""
        hw = self.hw
        B, T, M, K = hw.bias_cells, hw.cells, hw.neurons, hw.bank
        D, RL, L = hw.out_fifo, hw.read_latency, self.lat
        R, C, R_last = hw.read_lanes, hw.reads_per_neuron, hw.last_read_lanes
        W = hw.banks
        thr = majority_threshold(T)
        src = SourceSide(enumerate(images), valid_gen)
        present, draw_ready = src.present, SinkSide(ready_gen).draw
        draw_cls = SinkSide(cls_ready_gen).draw
        accepted, outputs = [], []
        self.classes = []
        cls_valid, cls_out = False, None      # the ArgmaxUnit's result register
        best = best_idx = 0

        seq = SenseAmpSequencerModel(K, hw.phase_lengths)
        fifo: deque = deque()                  # (word, bits)
        credits = D
        running = False
        img = -1
        mode = 0
        xe = None
        reads: dict[int, np.ndarray] = {}      # arrival cycle -> bridge bits of one read
        results: dict[int, tuple] = {}         # cycle the popcount result emerges -> (neuron, bit)
        # digital counters
        iss_neuron = iss_read = iss_slot = iss_row = iss_col = 0
        iss_done = False
        col_cnt, wbuf, push_neuron = 0, [], 0
        wacc = wslot = wword = 0               # digital word assembly
        # analog
        bank_iss = 0
        cycle = 0
        while (not src.idle or running or fifo or reads or results or seq.phase or seq.q_valid or seq.resp_valid
               or cls_valid):
            if cycle >= max_cycles:
                raise TimeoutError(f"BnnLayerEngineModel: no end after {max_cycles} cycles")
            current = present()
            rdy = draw_ready()
            x_ready = (not running) and credits == D and not cls_valid
            if hw.argmax:
                crdy = draw_cls()
                if cls_valid and crdy:
                    self.classes.append((cycle, cls_out))
                    cls_valid = False
            # --- y -----------------------------------------------------------------------------
            y_xfer = bool(fifo) and rdy
            if y_xfer:
                w, bits = fifo.popleft()
                outputs.append((cycle, OutWord(w, bits, int(w == W - 1))))
            writes = []
            reserve = 0
            done = False
            # --- digital issue -----------------------------------------------------------------
            if running and not mode and not iss_done and (iss_read != 0 or iss_slot != 0 or credits > 0):
                n_lanes = R_last if iss_read == C - 1 else R
                reads[cycle + RL] = self.array[iss_row, iss_col:iss_col + n_lanes]
                if iss_read == 0 and iss_slot == 0:
                    reserve = 1                # one output word per bank of K neurons
                if iss_read == C - 1:
                    iss_read = 0
                    if iss_neuron == M - 1:
                        iss_done = True
                    iss_neuron += 1
                    if iss_slot == K - 1:
                        iss_slot, iss_row, iss_col = 0, iss_row + 1, 0
                    else:
                        iss_slot, iss_col = iss_slot + 1, iss_col + R_last
                else:
                    iss_read, iss_col = iss_read + 1, iss_col + R
            # --- digital collect (reads arriving now) ------------------------------------------
            if cycle in reads:
                wbuf.append(reads.pop(cycle))
                if col_cnt == C - 1:
                    cnt = int(np.count_nonzero(np.concatenate(wbuf) == xe))
                    results[cycle + L] = (push_neuron, int(cnt >= thr), cnt)
                    push_neuron += 1
                    col_cnt, wbuf = 0, []
                    if push_neuron == M:
                        done = True
                else:
                    col_cnt += 1
            if cycle in results:               # the popcount result enters the word; a full word is written
                nrn, bit, cnt = results.pop(cycle)
                if hw.argmax:                  # the ArgmaxUnit takes every popcount, in neuron order
                    if nrn == 0 or cnt > best:
                        best, best_idx = cnt, nrn
                    if nrn == M - 1:
                        cls_valid, cls_out = True, ArgmaxOut(best_idx, best)
                wacc |= bit << wslot
                if wslot == K - 1 or nrn == M - 1:
                    writes.append((wword, wacc))
                    wacc, wslot, wword = 0, 0, wword + 1
                else:
                    wslot += 1
            # --- analog: sequencer; its response goes straight into the FIFO ----------------------
            req_valid = running and mode and bank_iss < W and credits >= 1
            sa = 0
            tag = seq.readout_first_tag()
            if self.analog is not None and img >= 0 and tag is not None:
                for k in range(K):
                    j = tag * K + k
                    if j < M:
                        sa |= int(self.analog[img, j]) << k
            ev = seq.tick(req_valid=int(req_valid), req_tag=bank_iss, resp_ready=1, sa_out=sa)
            if ev["accepted"] is not None:
                reserve = 1
                bank_iss += 1
            if ev["taken"] is not None:
                r = ev["taken"]
                count = min(K, M - r.tag * K)
                writes.append((r.tag, r.bits & ((1 << count) - 1)))
                if r.tag == W - 1:
                    done = True
            # --- FIFO writes become visible next cycle -----------------------------------------
            if len(writes) > 1:
                raise AssertionError(f"cycle {cycle}: two FIFO writes at once")
            fifo.extend(writes)
            if len(fifo) > D:
                raise AssertionError(f"cycle {cycle}: output FIFO overflow")
            credits += int(y_xfer) - reserve
            # --- image start / end --------------------------------------------------------------
            if done:
                running = False
            if x_ready and current is not None:
                idx, (x_bits, an, *drive) = src.taken()
                accepted.append((cycle, idx))
                running, img, mode = True, idx, int(an)
                xe = extend_inputs(x_bits, B, drive[0] if drive else None)[0]
                iss_neuron = iss_read = iss_slot = iss_row = iss_col = 0
                iss_done = False
                col_cnt, wbuf, push_neuron = 0, [], 0
                wacc = wslot = wword = 0
                bank_iss = 0
            cycle += 1
        self.cycles = cycle
        return accepted, outputs
