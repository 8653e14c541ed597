"""docs/device_response.png: conductance vs pulse number (SET then RESET), mean and spread over devices.

``python -m golden.physics.device_plot [PATH]`` regenerates the figure from the presets.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from golden.physics.device import PCM_NANDAKUMAR, RERAM_BINARY, RERAM_HFO2, DeviceModel

ROOT = Path(__file__).resolve().parents[2]


def plot_response(path: str | Path = ROOT / "docs" / "device_response.png", devices: int = 1000,
                  seed: int = 0) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("HfO2 ReRAM preset (default)", RERAM_HFO2, 30, 30),
              ("binary ReRAM preset", RERAM_BINARY, 10, 10),
              ("PCM stand-in (Nandakumar 2018)", PCM_NANDAKUMAR, 30, 1)]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for ax, (title, p, n_set, n_reset) in zip(axes, panels):
        c = DeviceModel(p, seed).response_curve(np.arange(devices), n_set, n_reset)
        k = np.arange(c.shape[0])
        lo, hi = np.percentile(c, [10, 90], axis=1)
        ax.fill_between(k, lo, hi, alpha=0.3, label="10-90 % of devices")
        ax.plot(k, c.mean(axis=1), lw=2, label="mean")
        for j in range(3):
            ax.plot(k, c[:, j], lw=0.7, alpha=0.8, label="single devices" if j == 0 else None)
        ax.axvline(n_set + 0.5, color="k", lw=0.6, ls=":")
        ax.text(0.25 * n_set, p.g_max * 0.98, "SET", ha="center", va="top")
        ax.text(n_set + 0.5 + 0.5 * max(n_reset, 2), p.g_max * 0.98, "RESET", ha="center", va="top")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("pulse number")
        ax.set_ylabel("conductance (uS)")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8, loc="center right")
    fig.suptitle(f"Device model response: {devices} devices (device-to-device and cycle-to-cycle variation), "
                 "literature-plausible parameters, not measured data", fontsize=10)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


if __name__ == "__main__":
    print(plot_response(*sys.argv[1:2]))
