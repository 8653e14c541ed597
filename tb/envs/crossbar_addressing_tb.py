"""cocotb environment of CrossbarAddressing: one random array command per cycle, every output checked.

The driver writes a command right after each rising edge (cycle ``t``); a monitor samples every
output in ``ReadOnly`` of every cycle. The golden :meth:`CrossbarAddressingModel.cycle_model`
predicts the outputs of cycle ``t + 1`` from the command of cycle ``t``; an in-order scoreboard
compares the two lists (the first difference names its cycle). The block's ``Assert``s run as
Verilog immediate assertions (``--assert``). The command generator is a plain function shared with
the pytest side.
"""
from __future__ import annotations

import random
from dataclasses import replace

from golden.spec.params import AccelParams
from golden.spec.transactions import RESET, SET
from golden.twins.crossbar_addressing import ArrayCommand


def random_commands(params: AccelParams, rng: random.Random, n: int, read_width: int = 1) -> list[ArrayCommand]:
    """``n`` commands: idle, SET/RESET pulses, reads, 2T2R pair reads, a few illegal modes and
    out-of-range addresses (where the field widths can hold one). With ``read_width`` W > 1 the pair
    reads get a random ``span`` (0 .. W-1, word reads, some running off the array's end) and a few
    non-pair commands a non-zero ``span`` (illegal)."""
    rows, P = params.array.rows, params.phys_cols
    rmax, cmax = 1 << params.row_width, 1 << params.phys_col_width
    out = []
    for _ in range(n):
        u = rng.random()
        row, pc = rng.randrange(rows), rng.randrange(P)
        if rng.random() < 0.15:          # the array's edges (first and last line) more often
            row, pc = rng.choice((0, rows - 1, row)), rng.choice((0, 1, P - 2, P - 1, pc)) % P
        if rng.random() < 0.05:          # out of range (or an edge address when the width is exact)
            row = rng.randrange(rows - 1, rmax) if rng.random() < 0.5 else row
            pc = rng.randrange(P - 1, cmax) if rng.random() < 0.7 else pc
        if u < 0.15:
            c = ArrayCommand(row=row, phys_col=pc)                       # idle (address ignored)
        elif u < 0.25:
            c = ArrayCommand(sel=1, row=row, phys_col=pc, polarity=rng.randrange(2))   # setup/settle
        elif u < 0.60:
            c = ArrayCommand(sel=1, row=row, phys_col=pc, we=1, polarity=rng.choice((SET, RESET)))
        elif u < 0.80:
            c = ArrayCommand(sel=1, row=row, phys_col=pc, re=1)
        elif u < 0.92:
            c = ArrayCommand(sel=1, row=row, phys_col=pc, re=1, pair=1)
        else:                            # illegal modes
            sel, we, re, pair = rng.choice([(1, 1, 1, 0), (0, 1, 0, 0), (0, 0, 1, 0), (1, 1, 0, 1),
                                            (0, 0, 1, 1), (0, 0, 0, 1)])
            c = ArrayCommand(sel=sel, row=row, phys_col=pc, we=we, re=re, pair=pair,
                             polarity=rng.randrange(2))
        if read_width > 1 and (c.pair or rng.random() < 0.05):
            c = replace(c, span=rng.randrange(read_width))
        out.append(c)
    return out


OPS = ("idle", "select", "set", "reset", "read", "read_multi", "error")


def operation(le) -> str:
    """What a cycle's observed line enables do (:class:`~golden.twins.crossbar_addressing.LineEnables`)."""
    if le.error:
        return "error"
    if le.write:
        return "set" if le.bl_set else "reset"
    if le.read:
        return "read_multi" if le.bl_read & (le.bl_read - 1) else "read"
    return "select" if le.wl else "idle"


def sample_coverage(cov, params: AccelParams, got) -> None:
    """Functional coverage of the observed outputs, cycle by cycle: the operation, the word line and
    the lowest column it drives (edges of the array), and each operation after each other one
    (write right after read, read right after write, ...)."""
    if not cov.enabled:   # collection off (make test): nothing to compute
        return
    rows, P = params.array.rows, params.phys_cols
    multi = params.array.cell == "2T2R"      # pair reads exist in 2T2R only
    ops = [o for o in OPS if multi or o != "read_multi"]
    edges = ["first", "inside", "last"]
    g = cov.group("lines", {"op": ops, "prev": ops, "row": edges, "col": edges},
                  {"prev_x_op": ("prev", "op"), "op_x_row": ("op", "row"), "op_x_col": ("op", "col")},
                  ignore={"op_x_row": [(o, None) for o in ("idle", "error")],
                          "op_x_col": [(o, None) for o in ("idle", "select", "error")]})

    def edge(bits: int, n: int) -> str | None:
        if not bits:
            return None
        i = (bits & -bits).bit_length() - 1
        return "first" if i == 0 else "last" if i == n - 1 else "inside"

    prev = None
    for _, le in got:
        op = operation(le)
        g.sample(op=op, prev=prev, row=edge(le.wl, rows), col=edge(le.bl_set | le.sl_reset | le.bl_read, P))
        prev = op


try:  # the cocotb part only loads inside a simulation
    import cocotb
    from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge
except ImportError:  # pragma: no cover
    cocotb = None


if cocotb is not None:
    import json
    import time
    from pathlib import Path

    from golden.spec.params import params_from_dict
    from golden.twins.crossbar_addressing import CrossbarAddressingModel, LineEnables
    from tb.kit.coverage import Coverage
    from tb.kit.runner import test_config
    from tb.kit.scoreboard import Scoreboard, ScoreboardMismatch
    from tb.kit.testbench import Testbench

    OUTPUTS = ("wl", "bl_set", "sl_reset", "bl_read", "write", "read", "error")
    CMD_FIELDS = ("sel", "row", "phys_col", "we", "re", "polarity")

    class TB(Testbench):
        """The command driver (``cmd__*`` and ``pair``) and the sampler of every line enable.

        Reset is held for 2 edges, cycle 0 starts one edge after the release; the counter is
        time-based (the behavioural array stamps its pulses with it).
        """

        def __init__(self, dut):
            self.ports = {k: getattr(dut, f"cmd__{k}") for k in CMD_FIELDS}
            super().__init__(dut, idle=[*self.ports.values(), dut.pair], reset_cycles=2, timed=True)
            self.outputs = [getattr(dut, k) for k in OUTPUTS]

        def drive(self, cmd: ArrayCommand) -> None:
            """Write one command to the inputs (right after an edge)."""
            for k, h in self.ports.items():
                h.value = getattr(cmd, k)
            self.dut.pair.value = cmd.pair

        def sample(self):
            """The line enables of this cycle (call in ``ReadOnly``)."""
            return LineEnables(*(int(h.value) for h in self.outputs))

    @cocotb.test()
    async def random_commands_every_cycle(dut):
        """Seeded random commands, one per cycle, against the golden decoder."""
        cfg = test_config()
        stats = await commands_every_cycle(dut, cfg)
        if cfg.get("stats_path"):
            Path(cfg["stats_path"]).write_text(json.dumps(stats))

    @cocotb.test()
    async def scoreboard_self_test(dut):
        """A wrong expectation (the error flag of cycle 100 inverted) must be reported with its cycle."""
        cfg = {**test_config(), "commands": 200, "mutate": "one_output"}
        try:
            await commands_every_cycle(dut, cfg)
        except ScoreboardMismatch as e:
            dut._log.info("expected mismatch reported: %s", e)
            head = "scoreboard crossbar_addressing: mismatch at index 100, cycle 100"
            assert e.cycle == 100 and str(e).startswith(head), str(e)
        else:
            raise AssertionError("the scoreboard missed a mutated expectation")

    async def commands_every_cycle(dut, cfg: dict) -> dict:
        """Reset, drive one command per cycle, compare every cycle's outputs; returns statistics."""
        params = params_from_dict(cfg["params"])
        seed = cfg["seed"]
        cmds = random_commands(params, random.Random(seed), cfg["commands"])
        want = list(enumerate(CrossbarAddressingModel(params).cycle_model(cmds)))
        if cfg.get("mutate") == "one_output":   # scoreboard self-test: a wrong expectation
            k = len(want) // 2
            c, le = want[k]
            want[k] = (c, LineEnables(**{**le.__dict__, "error": 1 - le.error}))
        dut._log.info("seed %d: %d commands, params %s", seed, len(cmds), cfg["params"])

        tb = TB(dut)
        await tb.reset()
        got = []
        edge = RisingEdge(dut.clk)
        t = time.perf_counter()
        for cycle in range(len(cmds) + 1):
            if cycle < len(cmds):
                tb.drive(cmds[cycle])
            await ReadOnly()
            got.append((cycle, tb.sample()))
            await edge
        t = time.perf_counter() - t
        compared = Scoreboard("crossbar_addressing", seed=seed).check(want, got)
        if cfg.get("mutate") is None:
            cov = Coverage("crossbar_addressing", cfg)
            sample_coverage(cov, params, got)
            cov.write()
        stats = {"commands": len(cmds), "cycles": len(cmds) + 1, "sim_s": t,
                 "cycles_per_s": (len(cmds) + 1) / t, "compared": compared,
                 "errors": sum(le.error for _, le in want)}
        dut._log.info("RESULT %s", stats)
        return stats


def program_and_read_script(params: AccelParams, rng: random.Random, n: int):
    """Per-cycle commands of ``n`` random operations (pulse trains and reads) as a scheduler would
    issue them, with the golden record of what the array must see.

    Returns ``(commands, pulses, reads)``: ``pulses`` lists :class:`~golden.spec.transactions.Pulse` and
    ``reads`` ``(cycle, row, phys_col)`` stamped with the command cycle of the strobe's first cycle;
    a 2T2R pair read is recorded as a read of its BL device (column ``2m``).
    """
    from golden.spec.transactions import Pulse

    rows, P = params.array.rows, params.phys_cols
    two_t2r = params.array.cell == "2T2R"
    cmds: list[ArrayCommand] = []
    pulses, reads = [], []
    for _ in range(n):
        row, pc = rng.randrange(rows), rng.randrange(P)
        cmds += [ArrayCommand()] * rng.randint(0, 2) + [ArrayCommand(sel=1, row=row, phys_col=pc)]
        if rng.random() < 0.7:
            pol = rng.randrange(2)
            for _ in range(rng.randint(1, 4)):
                pulses.append(Pulse(len(cmds), row, pc, pol))
                cmds += [ArrayCommand(sel=1, row=row, phys_col=pc, we=1, polarity=pol)] * rng.randint(1, 3)
                cmds += [ArrayCommand(sel=1, row=row, phys_col=pc, polarity=pol)] * rng.randint(1, 2)
        else:
            pair = int(two_t2r and (pc | 1) < P and rng.random() < 0.5)
            reads.append((len(cmds), row, pc & ~1 if pair else pc))
            cmds += [ArrayCommand(sel=1, row=row, phys_col=pc, re=1, pair=pair)] * rng.randint(1, 3)
        cmds.append(ArrayCommand())
    return cmds, pulses, reads


if cocotb is not None:
    from golden.physics.crossbar_state import CrossbarArray
    from golden.physics.device import PRESETS, DeviceModel
    from golden.twins.crossbar_addressing import LATENCY
    from tb.models.reram_array import ArrayModel

    @cocotb.test()
    async def array_model_on_lines(dut):
        """The behavioural array on the decoder's lines: every pulse and read seen where the golden
        script put it, read codes and final conductances equal to the golden array's."""
        cfg = test_config()
        params = params_from_dict(cfg["params"])
        seed = cfg["seed"]
        cmds, pulses, reads = program_and_read_script(params, random.Random(seed), cfg["operations"])
        device = DeviceModel(PRESETS[cfg.get("device", "reram")], seed=seed)
        golden = CrossbarArray(params, device)
        want_reads, done = [], 0
        for c, row, pc in reads:                 # the golden: pulses before each read, then the read
            k = next((i for i, p in enumerate(pulses) if p.cycle > c), len(pulses))
            golden.apply(pulses[done:k])
            done = k
            want_reads.append((c, (row, pc, golden.read_code(row, pc))))
        golden.apply(pulses[done:])

        tb = TB(dut)
        counter = await tb.reset()
        model = ArrayModel(dut, CrossbarArray(params, device), counter=counter, latency=LATENCY,
                           drive_adc=False).start()
        edge = RisingEdge(dut.clk)
        prev = None
        for c in cmds:                 # the driver writes only when the command changes
            if c != prev:
                tb.drive(c)
                prev = c
            await edge
        await ClockCycles(dut.clk, 3)
        Scoreboard("array_model.pulses", seed=seed).check(pulses, model.pulses)
        got_reads = [(c, (r, pc, v)) for c, r, pc, v in model.reads]
        Scoreboard("array_model.reads", seed=seed).check(want_reads, got_reads)
        model.check_windows()
        assert not model.violations, model.violations[:5]
        mism = int((model.array.g_flat != golden.g_flat).sum())
        assert mism == 0, f"seed {seed}: {mism} conductances differ from the golden array"
        stats = {"operations": cfg["operations"], "pulses": len(pulses), "reads": len(reads),
                 "cycles": len(cmds)}
        dut._log.info("RESULT %s", stats)
        if cfg.get("stats_path"):
            Path(cfg["stats_path"]).write_text(json.dumps(stats))
