"""Studies of the BNN golden model: hardware accuracy, sweeps (bit errors, SA clock), error-model
comparison and the IR-drop comparison with a current-summing crossbar. Pure numerics; the
``reram-accel bnn`` command prints and plots the results.
"""
from __future__ import annotations

import time

import numpy as np

from golden.bnn.chip_model import (
    AUTHORS_A,
    AUTHORS_B,
    BnnHardware,
    HardwareConfig,
    authors_ab,
    bridge_error_probability,
    full_range_error,
    physical_perr,
    physical_perr_monte_carlo,
    physical_sigma_delta,
    sa_error_probability,
    sa_sigma,
)
from golden.bnn.model_params import BnnTrainParams, BridgeParams, NeuronParams
from golden.bnn.network import BnnModel, binarize_images, blas_threads, load_or_train, random_model


def hardware_accuracy(model: BnnModel, x_bits: np.ndarray, y: np.ndarray, cfg: HardwareConfig,
                      progress: bool = False, desc: str = "hardware") -> dict:
    """Accuracy of ``model`` on the hardware model ``cfg`` and the per-layer neuron error rates
    (``calibration_layers``: per hidden layer, the SA calibration summary: neurons at the bias-cell limit and,
    for the measured calibration, its cost; see :meth:`golden.bnn.sa_calibration.LayerCalibration.summary`)."""
    t0 = time.perf_counter()
    hw = BnnHardware(model, cfg)
    pred = hw.predict_bits(x_bits, progress=progress, desc=desc)
    cal = [{k: v for k, v in hw.calibration[li].items() if k not in ("shift", "result")}
           for li in sorted(hw.calibration)]
    return {"accuracy": float(np.mean(pred == y)), "neuron_error_rate": hw.neuron_error_rate(),
            "bridge_ber": hw.bridge_ber() if cfg.mode != "ideal" else 0.0, "mode": cfg.mode,
            "sa_clock_ns": cfg.clock, "sa_calibration": cfg.sa_calibration,
            "calibration_layers": cal, "seconds": time.perf_counter() - t0}


def ber_sweep(model, x_bits, y, bers, seed=0, neuron: NeuronParams | None = None, progress=False,
              sa_calibration: str = "none") -> list[dict]:
    """Accuracy vs static bridge bit-error rate (physical neuron at its nominal clock, SA offsets
    trimmed with ``sa_calibration``)."""
    out = []
    for p in bers:
        cfg = HardwareConfig(mode="physical", seed=seed, bit_error=float(p), neuron=neuron or NeuronParams(),
                             sa_calibration=sa_calibration)
        r = hardware_accuracy(model, x_bits, y, cfg, progress, desc=f"BER {p:g}")
        out.append({"bit_error": float(p), **r})
    return out


def clock_sweep(model, x_bits, y, clocks, seed=0, bridge: BridgeParams | None = None,
                neuron: NeuronParams | None = None, modes=("physical", "authors"), progress=False,
                sa_calibrations=("none",)) -> list[dict]:
    """Accuracy vs SA clock period for the physical (once per entry of ``sa_calibrations``; the
    measured calibration runs at the swept clock) and the authors' error model."""
    out = []
    for mode in modes:
        for cal in (sa_calibrations if mode == "physical" else ("none",)):
            for t in clocks:
                cfg = HardwareConfig(mode=mode, seed=seed, sa_clock_ns=float(t), bridge=bridge or BridgeParams(),
                                     neuron=neuron or NeuronParams(), sa_calibration=cal)
                r = hardware_accuracy(model, x_bits, y, cfg, progress, desc=f"{mode} {cal} {t:g} ns")
                out.append({"clock_ns": float(t), **r})
    return out


def error_model_curves(n_tots=(23, 1127), clocks=(4.0, 10.0, 20.0), neuron: NeuronParams | None = None,
                       mc: bool = True, seed: int = 0) -> dict:
    """P_err(delta) of the authors' model and of the physical neuron (analytic; MC check at 10 ns)."""
    neuron = neuron or NeuronParams()
    res = {"authors_nominal_ab": (AUTHORS_A, AUTHORS_B),
           "authors_scale_invariant_ab": authors_ab(10.0, neuron, "scale_invariant"), "curves": []}
    for n in n_tots:
        d = np.arange(1, n + 1, 2) if n % 2 else np.arange(0, n + 1, 2)
        for t in clocks:
            a, b = authors_ab(t, neuron)
            s_auth = float(sa_sigma(n, a, b))
            s_si = float(sa_sigma(n, *authors_ab(t, neuron, "scale_invariant")))
            s_phys = float(physical_sigma_delta(n, neuron, t))
            cur = {"n_tot": n, "clock_ns": t, "delta": d.tolist(),
                   "authors": sa_error_probability(d, s_auth).tolist(),
                   "physical": physical_perr(d, n, neuron, t).tolist(),
                   "authors_scale_invariant": sa_error_probability(d, s_si).tolist(),
                   "sigma_authors": s_auth, "sigma_physical": s_phys, "sigma_scale_invariant": s_si,
                   "full_range_scale_invariant": full_range_error(n, s_si),
                   "full_range_authors": full_range_error(n, s_auth),
                   "full_range_physical": float(np.mean(physical_perr(np.arange(-n, n + 1, 2), n, neuron, t)))}
            if mc and t == 10.0:
                sel = d[: max(1, min(len(d), int(4 * s_phys) // 2 + 2))]
                sel = sel[:: max(1, len(sel) // 6)]
                cur["mc_delta"] = sel.tolist()
                cur["mc_physical"] = physical_perr_monte_carlo(n, sel, neuron, n_neurons=400 if n > 200 else 2000,
                                                               n_reads=3, seed=seed, clock_ns=t).tolist()
            res["curves"].append(cur)
    return res


# ---------------------------------------------------------------------------------------------
# IR drop
# ---------------------------------------------------------------------------------------------
def crossbar_predict(model: BnnModel, x_bits: np.ndarray, xbar, tile: int = 16, rows_ideal: bool = True,
                     batch: int = 500) -> tuple[np.ndarray, list[float]]:
    """Classes of ``model`` run on current-summing crossbars with IR drop (ideal SAs and devices),
    and the per-hidden-layer fraction of decisions that differ from the ideal BNN on the same inputs.
    Last layer: argmax of the differential currents."""
    from golden.physics.ir_drop import crossbar_decisions, crossbar_layer_transfer
    Ts = []
    for li in range(model.n_layers):
        w = model.extended_weights(li) if model.layers[li][1] is not None else model.layers[li][0]
        Ts.append(crossbar_layer_transfer(w, xbar, tile=tile, rows_ideal=rows_ideal).astype(np.float32))
    flips = np.zeros(model.n_layers - 1)
    count = np.zeros(model.n_layers - 1)
    preds = []
    with blas_threads():
        for i in range(0, len(x_bits), batch):
            h = np.asarray(x_bits[i:i + batch], dtype=np.uint8)
            for li in range(model.n_layers - 1):
                xe = np.concatenate([h, np.ones((len(h), model.bias_cells(li)), np.uint8)], 1)
                bits, _ = crossbar_decisions(xe, Ts[li], xbar.v_read)
                ideal = model.layer_bits(h, li)
                flips[li] += np.sum(bits != ideal)
                count[li] += bits.size
                h = bits
            _, diff = crossbar_decisions(h, Ts[-1], xbar.v_read)
            preds.append(np.argmax(diff, 1))
    return np.concatenate(preds), (flips / np.maximum(count, 1)).tolist()


def decision_error_vs_fan_in(fan_ins=(32, 64, 128, 256, 512, 1024, 2048), neurons: int = 128, images: int = 200,
                             seed: int = 0, r_wires=(1.0, 2.5, 10.0), check_2d_upto: int = 512,
                             progress: bool = False) -> list[dict]:
    """Decision-error rate of one random BNN layer (uniform weight/input bits, thresholds uniform in the
    bias range) on a crossbar with IR drop versus on 2T2R bridges (physical model, no IR drop)."""
    from golden.physics.ir_drop import (
        CrossbarParams,
        bridge_row_drop,
        crossbar_decisions,
        crossbar_layer_transfer,
    )
    out = []
    it = fan_ins
    if progress:
        from tqdm import tqdm
        it = tqdm(fan_ins, desc="IR drop vs fan-in", leave=False)
    for n in it:
        m = random_model([n, neurons, 10], seed=seed + n)
        x = np.random.default_rng(seed + 7 * n).integers(0, 2, (images, n), dtype=np.uint8)
        xe = np.concatenate([x, np.ones((images, m.bias_cells(0)), np.uint8)], 1)
        ideal = m.layer_bits(x, 0)
        rec = {"fan_in": n, "n_tot": m.n_tot(0)}
        for r in r_wires:
            xbar = CrossbarParams(r_wire=r)
            bits, _ = crossbar_decisions(xe, crossbar_layer_transfer(m.extended_weights(0), xbar), xbar.v_read)
            rec[f"crossbar_r{r:g}"] = float(np.mean(bits != ideal))
        # 10x more resistive devices (60 k / 1.2 M) at 2.5 ohm
        xbar = CrossbarParams(r_wire=2.5, r_lrs=60e3, r_hrs=1.2e6, r_access=1e3)
        bits, _ = crossbar_decisions(xe, crossbar_layer_transfer(m.extended_weights(0), xbar), xbar.v_read)
        rec["crossbar_r2.5_highR"] = float(np.mean(bits != ideal))
        if n <= check_2d_upto:
            xbar = CrossbarParams(r_wire=2.5)
            bits, _ = crossbar_decisions(xe, crossbar_layer_transfer(m.extended_weights(0), xbar, rows_ideal=False),
                                         xbar.v_read)
            rec["crossbar_r2.5_rows"] = float(np.mean(bits != ideal))
        hw = BnnHardware(m, HardwareConfig(mode="physical", seed=seed))
        for k in range(0, images, 100):
            hw.layer_bits(x[k:k + 100], 0, np.arange(k, min(k + 100, images)))
        rec["bridge_physical"] = hw.neuron_error_rate()[0]
        hw = BnnHardware(m, HardwareConfig(mode="physical", seed=seed,
                                           neuron=NeuronParams(sa_offset=0, sa_noise=0, cap_mismatch=0),
                                           bridge=BridgeParams(sigma_lrs_d2d=0, sigma_lrs_c2c=0, sigma_hrs_d2d=0,
                                                               sigma_hrs_c2c=0, vm_sigma=0)))
        for k in range(0, images, 100):
            hw.layer_bits(x[k:k + 100], 0, np.arange(k, min(k + 100, images)))
        rec["bridge_ir_only"] = hw.neuron_error_rate()[0]     # 0 by construction: no DC summing current
        rec["bridge_bank32_margin_used"] = bridge_row_drop(32, 2.5)["margin_used"]
        out.append(rec)
    return out


def accuracy_vs_fan_in(widths=(31, 63, 127, 255, 511, 1023, 2047), dataset: str = "digits", epochs: int = 30,
                       seed: int = 0, r_wire: float = 2.5, progress: bool = False, log=None, data=None) -> list[dict]:
    """Networks ``in-H-H-10`` (fan-in H for the second hidden and the output layer): software accuracy,
    2T2R bridge hardware model (physical) and crossbar with IR drop (r_wire per segment)."""
    from golden.data import datasets
    from golden.physics.ir_drop import CrossbarParams
    data = data or datasets.load(dataset)
    xb = binarize_images(data.x_test)
    out = []
    for h in widths:
        p = BnnTrainParams(dataset=dataset, hidden=(h, h), epochs=epochs, batch=50, lr=1e-2, lr_final=1e-4,
                           seed=seed, dropout_in=0.1, dropout_hidden=0.2)
        m = load_or_train(p, data=data, log=log)
        sw = float(np.mean(m.predict_bits(xb) == data.y_test))
        br = hardware_accuracy(m, xb, data.y_test, HardwareConfig(mode="physical", seed=seed))
        xp, xflips = crossbar_predict(m, xb, CrossbarParams(r_wire=r_wire))
        hp, hflips = crossbar_predict(m, xb, CrossbarParams(r_wire=r_wire, r_lrs=60e3, r_hrs=1.2e6))
        rec = {"width": h, "fan_in_layer2": h, "software": sw, "bridge": br["accuracy"],
               "bridge_neuron_error": br["neuron_error_rate"], "crossbar": float(np.mean(xp == data.y_test)),
               "crossbar_flip_rate": xflips, "crossbar_highR": float(np.mean(hp == data.y_test)),
               "crossbar_highR_flip_rate": hflips}
        if log:
            log(f"H={h}: software {sw:.4f} bridge {rec['bridge']:.4f} crossbar {rec['crossbar']:.4f} "
                f"(flips {np.round(xflips, 4).tolist()}) crossbar 60k/1.2M {rec['crossbar_highR']:.4f} "
                f"(flips {np.round(hflips, 4).tolist()})")
        out.append(rec)
    return out


def bridge_ber_summary(bridge: BridgeParams | None = None) -> dict:
    bridge = bridge or BridgeParams()
    return bridge_error_probability(bridge)


__all__ = [
    "accuracy_vs_fan_in",
    "ber_sweep",
    "bridge_ber_summary",
    "clock_sweep",
    "crossbar_predict",
    "decision_error_vs_fan_in",
    "error_model_curves",
    "hardware_accuracy",
]
