"""The register-map emitters: the Markdown reference, the C header, docs/registers.md, the CLI output."""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from golden.spec.params import AccelParams
from golden.spec.register_map.accelerator_map import accelerator_register_map, params_summary
from golden.spec.register_map.emitters import c_header, markdown

CONFIGS = {
    "default": AccelParams(),
    "large": AccelParams().with_(array={"rows": 4096, "cols": 4096}, synapse={"devices": 1},
                                 update={"dw_width": 16, "chi_width": 40, "eps": (1 << 39) - 1}),
}


# --- emitters ----------------------------------------------------------------------------------------
def test_markdown_lists_every_register_and_field():
    m = accelerator_register_map(AccelParams())
    md = markdown(m, params_summary=params_summary(AccelParams()))
    for r in m.registers:
        assert f"## {r.name.upper()}" in md and f"`0x{r.addr:03X}`" in md
        for f in r.fields:
            assert f"| `{f.bits}` | {f.name.upper()} |" in md
    assert "Build-time vs runtime" in md


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
@pytest.mark.parametrize("name", ["default", "large", "bnn_network"])
def test_c_header_compiles_and_matches_the_map(name, tmp_path):
    """Compile a program that prints every macro of the header; compare with the Python description."""
    from golden.spec.register_map.accelerator_map import network_bnn_map

    m = network_bnn_map() if name == "bnn_network" else accelerator_register_map(CONFIGS[name])
    (tmp_path / "reram_accel_regs.h").write_text(c_header(m))
    macros = re.findall(r"^#define (RERAM_ACCEL_[A-Z0-9_]+) [0-9x]", c_header(m), re.MULTILINE)
    prog = ["#include <stdint.h>", "#include <stdio.h>", '#include "reram_accel_regs.h"', "int main(void) {"]
    prog += [f'  printf("{n} %lu\\n", (unsigned long)({n}));' for n in macros]
    prog += ['  printf("GET %lu\\n", (unsigned long)RERAM_ACCEL_GET(0x00000100u, RERAM_ACCEL_CTRL_MODE));',
             '  printf("PUT %lu\\n", (unsigned long)RERAM_ACCEL_PUT(1u, RERAM_ACCEL_CTRL_MODE));',
             "  return 0;", "}"]
    (tmp_path / "t.c").write_text("\n".join(prog))
    subprocess.run(["cc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-o", str(tmp_path / "t"),
                    str(tmp_path / "t.c")], check=True, cwd=tmp_path)
    out = dict(ln.split() for ln in subprocess.run([str(tmp_path / "t")], capture_output=True, text=True,
                                                   check=True).stdout.splitlines())
    got = {k: int(v) for k, v in out.items()}
    for r in m.registers:
        R = f"RERAM_ACCEL_{r.name.upper()}"
        assert got[f"{R}_ADDR"] == r.addr and got[f"{R}_RESET"] == r.reset_value
        for f in r.fields:
            F = f"{R}_{f.name.upper()}"
            assert (got[f"{F}_SHIFT"], got[f"{F}_WIDTH"], got[f"{F}_MASK"]) == (f.offset, f.width, f.mask)
            if f.const is not None:
                assert got[f"{F}_VALUE"] == f.const
            for vn, v in f.values:
                assert got[f"{F}_{vn.upper()}"] == v
    assert got["GET"] == 1 and got["PUT"] == 0x100


def test_docs_registers_md_is_current():
    """docs/registers.md is generated; regenerate with `python -m golden.spec.register_map.accelerator_map > docs/registers.md`."""
    from pathlib import Path

    from golden.spec.register_map.accelerator_map import reference_markdown

    doc = Path(__file__).resolve().parents[3] / "docs" / "registers.md"
    assert doc.read_text() == reference_markdown(), "docs/registers.md is stale: regenerate it"


def test_cli_writes_register_map_next_to_the_verilog(tmp_path, capsys):
    from tb.cli.main import main

    out = tmp_path / "v"
    assert main(["verilog", "--out", str(out), "--only", "axil_csr"]) == 0
    text = capsys.readouterr().out
    assert "reram_accel_regs.h" in text and "registers.md" in text
    m = accelerator_register_map(AccelParams())
    assert (out / "reram_accel_regs.h").read_text() == c_header(m, params_summary(AccelParams()))
    assert "## UPDATE" in (out / "registers.md").read_text()
