"""Outputs of a register map: the Markdown reference (docs/registers.md) and the C header."""
from __future__ import annotations

from golden.spec.register_map.description import Access, Field, Register, RegisterMap

#: The module the generated files name as their source.
SOURCE = "golden/spec/register_map/accelerator_map.py"


# --- Markdown ------------------------------------------------------------------------------------
def markdown(regmap: RegisterMap, title: str | None = None, params_summary: str | None = None) -> str:
    """The register reference as Markdown (docs/registers.md): notes, a summary table, one section
    per register with its field table."""
    lines = _markdown_head(regmap, title, params_summary)
    lines += _markdown_summary(regmap)
    for r in regmap.registers:
        lines += _markdown_register(regmap, r)
    lines.append("")
    return "\n".join(lines)


def _markdown_head(regmap: RegisterMap, title: str | None, params_summary: str | None) -> list[str]:
    """Title, provenance line, build parameters and the map's notes."""
    up = regmap.name.upper()
    major, minor = regmap.version
    lines = [f"# {title or up + ' registers'}", "",
             (f"Generated from `{SOURCE}` by `reram-accel verilog` — do not edit. "
              f"Map version {major}.{minor}; AXI4-Lite, 32-bit data, "
              f"{regmap.addr_width}-bit byte addresses ({1 << regmap.addr_width} byte window); "
              f"C header: `{regmap.name.lower()}_regs.h`."), ""]
    if params_summary:
        lines += [f"Generated for: {params_summary}.", ""]
    return lines + list(regmap.notes)


def _markdown_summary(regmap: RegisterMap) -> list[str]:
    """The table of all registers: address, name (linked), access, reset value, first sentence."""
    lines = ["", "## Summary", "", "| Address | Register | Access | Reset | Description |", "|---|---|---|---|---|"]
    for r in regmap.registers:
        acc = "push (WO)" if r.push else "/".join(sorted({_access_label(f) for f in r.fields}))
        lines.append(f"| `0x{r.addr:03X}` | [{r.name.upper()}](#{r.name}) | {acc} | "
                     f"`0x{r.reset_value:08X}` | {_first_sentence(r.doc)} |")
    return lines


def _markdown_register(regmap: RegisterMap, r: Register) -> list[str]:
    """One register's section: address, push note, doc and the field table."""
    lines = ["", f"## {r.name.upper()}", "", f"<a id=\"{r.name}\"></a>"
             f"Address `0x{r.addr:03X}` (`{regmap.name.upper()}_{r.name.upper()}_ADDR`)"
             + (" — **push register**: a write with `wstrb` = 0xF hands all fields to the hardware as one "
                f"transfer; it waits while the hardware is busy, at most {regmap.push_wait} cycles, then "
                "it is refused (SLVERR, nothing pushed)." if r.push
                else "."), "", r.doc, "",
             "| Bits | Field | Access | Reset | Description |", "|---|---|---|---|---|"]
    for f in r.fields:
        reset = (f"`{f.const:#x}` (const)" if f.const is not None
                 else f"`{f.reset:#x}`" if f.access in (Access.RW, Access.W1C) else "-")
        doc = f.doc + (" Signed (two's complement)." if f.signed else "")
        if f.values:
            doc += " Values: " + ", ".join(f"`{v}` = {n.upper()}" for n, v in f.values) + "."
        lines.append(f"| `{f.bits}` | {f.name.upper()} | {_access_label(f)} | {reset} | {doc} |")
    return lines


# --- C header ------------------------------------------------------------------------------------
def c_header(regmap: RegisterMap, params_summary: str | None = None) -> str:
    """A C header with ``<NAME>_<REG>_ADDR`` and per field ``_SHIFT``, ``_WIDTH``, ``_MASK`` (in place),
    ``_RESET`` (RW), ``_VALUE`` (constants) and one macro per named value."""
    guard = f"{regmap.name.upper()}_REGS_H"
    lines = _c_header_preamble(regmap, guard, params_summary)
    for r in regmap.registers:
        lines += _c_register_macros(regmap, r)
    lines += [f"#endif /* {guard} */", ""]
    return "\n".join(lines)


def _c_header_preamble(regmap: RegisterMap, guard: str, params_summary: str | None) -> list[str]:
    """Comment block, include guard, map-wide macros and the GET/PUT field helpers."""
    up = regmap.name.upper()
    major, minor = regmap.version
    return [f"/* {regmap.name.lower()}_regs.h: register map of {regmap.name} (map version {major}.{minor}).",
            f" * Generated from {SOURCE} by `reram-accel verilog`; do not edit.",
            *([f" * Generated for: {params_summary}."] if params_summary else []),
            " * Byte addresses on an AXI4-Lite bus, 32-bit registers. MASK is in place (shifted). */",
            f"#ifndef {guard}", f"#define {guard}", "", "#include <stdint.h>", "",
            f"#define {up}_ADDR_WIDTH {regmap.addr_width}u",
            f"#define {up}_MAP_VERSION_MAJOR {major}u",
            f"#define {up}_MAP_VERSION_MINOR {minor}u",
            f"#define {up}_PUSH_WAIT {regmap.push_wait}u   /* cycles a push waits before SLVERR */",
            f"/* Extract / insert a field: {up}_GET(v, {up}_CTRL_MODE), {up}_PUT(x, {up}_CTRL_MODE). */",
            f"#define {up}_GET(v, F) (((uint32_t)(v) & F##_MASK) >> F##_SHIFT)",
            f"#define {up}_PUT(x, F) (((uint32_t)(x) << F##_SHIFT) & F##_MASK)", ""]


def _c_register_macros(regmap: RegisterMap, r: Register) -> list[str]:
    """One register's macros: address, reset value, then per field shift/width/mask and extras."""
    R = f"{regmap.name.upper()}_{r.name.upper()}"
    lines = [f"/* {r.name.upper()}: {_first_sentence(r.doc)}{' (push register)' if r.push else ''} */",
             f"#define {R}_ADDR 0x{r.addr:03X}u",
             f"#define {R}_RESET 0x{r.reset_value:08X}u"]
    for f in r.fields:
        F = f"{R}_{f.name.upper()}"
        lines += [f"#define {F}_SHIFT {f.offset}u", f"#define {F}_WIDTH {f.width}u",
                  f"#define {F}_MASK 0x{f.mask:08X}u"]
        if f.access is Access.RW:
            lines.append(f"#define {F}_RESET 0x{f.reset:X}u")
        if f.const is not None:
            lines.append(f"#define {F}_VALUE 0x{f.const:X}u")
        lines += [f"#define {F}_{n.upper()} {v}u" for n, v in f.values]
    lines.append("")
    return lines


# --- shared --------------------------------------------------------------------------------------
def _access_label(f: Field) -> str:
    return "RO (const)" if f.const is not None else f.access.value


def _first_sentence(text: str) -> str:
    s = " ".join(text.split())
    i = s.find(". ")
    return s if i < 0 else s[:i + 1]
