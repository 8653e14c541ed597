// Plain Verilator C++ harness of cosim_top (tb/cosim/run.py: two accelerator tops, one per MLP layer).
//
// Replays the AXI4-Lite stimulus recorded by the cocotb co-simulation (tb/cosim/training_tb.py)
// with exactly the same bus protocol, cycle for cycle, and no Python:
//   * per sample, both ports stream their UPDATE words in parallel: AWVALID/WVALID high, the next
//     word presented in the cycle in which BVALID is seen high (BREADY, RREADY held high);
//   * then STATUS is polled on port l1, then on l2, until BUSY is 0 (ARVALID one cycle, RDATA
//     sampled in the next cycle, next poll in the cycle after).
// Pulses are logged at every rising edge of each port's `write` (cycle, word line, column, polarity)
// so the log can be compared with the cocotb run's. Prints one JSON line with cycles, pulses and
// wall/CPU seconds of the replay loop.
//
// usage: cosim_harness STIMULUS PULSES_OUT [REPEAT]
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <algorithm>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "Vtop.h"
#include "harness_common.h"
#include "verilated.h"

#define L1(x) top->l1___05F##x
#define L2(x) top->l2___05F##x


struct Sample { std::vector<uint32_t> w[2]; };

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s STIMULUS PULSES_OUT [REPEAT]\n", argv[0]);
        return 2;
    }
    int repeat = argc > 3 ? std::atoi(argv[3]) : 1;
    std::ifstream in(argv[1]);
    std::string tag;
    unsigned upd_addr = 0, st_addr = 0, busy_bit = 0, seq_depth = 0, mode = 0;
    size_t nsamples = 0;
    in >> tag >> upd_addr >> st_addr >> busy_bit >> seq_depth >> mode;
    in >> tag >> nsamples;
    std::vector<Sample> samples(nsamples);
    for (auto& s : samples) {
        size_t n1, n2;
        in >> tag >> n1 >> n2;
        s.w[0].resize(n1);
        s.w[1].resize(n2);
        for (int k = 0; k < 2; ++k)
            for (auto& x : s.w[k]) in >> std::hex >> x >> std::dec;
    }
    if (!in) { std::fprintf(stderr, "bad stimulus file %s\n", argv[1]); return 2; }

    ReplayTimer timer;
    uint64_t cycles = 0;
    std::vector<Pulse> log[2];
    for (int rep = 0; rep < repeat; ++rep) {
        VerilatedContext ctx;
        Vtop* top = new Vtop{&ctx};
        log[0].clear(); log[1].clear();
        uint64_t cycle = 0;
        bool counting = false;
        uint8_t prev_w[2] = {0, 0};
        auto monitor = [&]() {
            if (L1(write) && !prev_w[0]) {
                int r = onehot(L1(wl)), c = onehot_or(L1(bl_set), L1(sl_reset));
                log[0].push_back({cycle, r, c, L1(bl_set) ? 1 : 0});
            }
            if (L2(write) && !prev_w[1]) {
                int r = onehot(L2(wl)), c = onehot_or(L2(bl_set), L2(sl_reset));
                log[1].push_back({cycle, r, c, L2(bl_set) ? 1 : 0});
            }
            prev_w[0] = L1(write);
            prev_w[1] = L2(write);
        };
        auto tick = [&]() {
            top->clk = 0; top->eval();
            top->clk = 1; top->eval();
            if (counting) { ++cycle; monitor(); }
        };
        top->rst = 1; top->clk = 0;
        L1(adc) = 0; L2(adc) = 0;
        L1(s_axil___05Fbready) = 1; L2(s_axil___05Fbready) = 1;
        L1(s_axil___05Frready) = 1; L2(s_axil___05Frready) = 1;
        L1(s_axil___05Fwstrb) = 0xF; L2(s_axil___05Fwstrb) = 0xF;
        top->eval();
        for (int i = 0; i < 3; ++i) tick();
        top->rst = 0;
        tick();
        counting = true;   // cycle 0 is the period after the first edge with reset released
        cycle = 0;

        L1(seq_en) = mode; L2(seq_en) = mode;
        L1(seq___05Faddr) = upd_addr; L2(seq___05Faddr) = upd_addr;
        L1(seq___05Fpoll_addr) = st_addr; L2(seq___05Fpoll_addr) = st_addr;
        uint8_t batch[2] = {0, 0};
        // load batch j of port k's words into its sequencer (SEQ_DEPTH words; poll on the last batch)
        auto load = [&](int k, const std::vector<uint32_t>& w, size_t j) {
            size_t n = std::min<size_t>(seq_depth, w.size() - j);
            bool poll = j + seq_depth >= w.size();
            batch[k] = uint8_t(batch[k] + 1);
            auto& words = k == 0 ? L1(seq___05Fwords) : L2(seq___05Fwords);
            for (size_t i = 0; i < n; ++i) words[i] = w[j + i];
            if (k == 0) { L1(seq___05Fn) = n; L1(seq___05Fpoll) = poll; L1(seq___05Fbatch) = batch[k]; }
            else { L2(seq___05Fn) = n; L2(seq___05Fpoll) = poll; L2(seq___05Fbatch) = batch[k]; }
        };

        timer.start();
        if (mode == 1) {
            for (const auto& s : samples) {
                size_t next[2] = {0, 0};
                bool active[2] = {true, true};
                for (int k = 0; k < 2; ++k) { load(k, s.w[k], 0); next[k] = seq_depth; }
                uint8_t prev_done[2] = {L1(seq___05Fdone), L2(seq___05Fdone)};
                while (active[0] || active[1]) {
                    tick();
                    uint8_t d[2] = {L1(seq___05Fdone), L2(seq___05Fdone)};
                    for (int k = 0; k < 2; ++k) {
                        if (active[k] && d[k] && !prev_done[k]) {
                            if (next[k] < s.w[k].size()) { load(k, s.w[k], next[k]); next[k] += seq_depth; }
                            else active[k] = false;
                        }
                        prev_done[k] = d[k];
                    }
                }
            }
        }
        const std::vector<Sample> none;
        const std::vector<Sample>& direct = mode == 1 ? none : samples;
        for (const auto& s : direct) {
            // one write per cycle: word j+1 in the cycle after AWREADY & WREADY took word j; a port
            // is done in the cycle after its last B response (tb/kit/axil_host.py, FastAxil)
            size_t sent[2] = {0, 0}, acked[2] = {0, 0};
            bool active[2] = {!s.w[0].empty(), !s.w[1].empty()};
            L1(s_axil___05Fawaddr) = upd_addr; L2(s_axil___05Fawaddr) = upd_addr;
            if (active[0]) { L1(s_axil___05Fwdata) = s.w[0][0]; L1(s_axil___05Fawvalid) = 1; L1(s_axil___05Fwvalid) = 1; }
            if (active[1]) { L2(s_axil___05Fwdata) = s.w[1][0]; L2(s_axil___05Fawvalid) = 1; L2(s_axil___05Fwvalid) = 1; }
            while (active[0] || active[1]) {
                top->eval();   // this cycle's ready and B outputs, before the edge
                bool took[2] = {active[0] && sent[0] < s.w[0].size() && L1(s_axil___05Fawready) && L1(s_axil___05Fwready),
                                active[1] && sent[1] < s.w[1].size() && L2(s_axil___05Fawready) && L2(s_axil___05Fwready)};
                bool b[2] = {active[0] && L1(s_axil___05Fbvalid), active[1] && L2(s_axil___05Fbvalid)};
                if ((b[0] && L1(s_axil___05Fbresp)) || (b[1] && L2(s_axil___05Fbresp))) {
                    std::fprintf(stderr, "write error\n"); return 1;
                }
                tick();
                if (took[0]) {
                    if (++sent[0] < s.w[0].size()) L1(s_axil___05Fwdata) = s.w[0][sent[0]];
                    else { L1(s_axil___05Fawvalid) = 0; L1(s_axil___05Fwvalid) = 0; }
                }
                if (took[1]) {
                    if (++sent[1] < s.w[1].size()) L2(s_axil___05Fwdata) = s.w[1][sent[1]];
                    else { L2(s_axil___05Fawvalid) = 0; L2(s_axil___05Fwvalid) = 0; }
                }
                if (b[0] && ++acked[0] == s.w[0].size()) active[0] = false;
                if (b[1] && ++acked[1] == s.w[1].size()) active[1] = false;
            }
            // poll STATUS.BUSY: port l1, then port l2
            for (int k = 0; k < 2; ++k) {
                while (true) {
                    uint32_t v;
                    if (k == 0) {
                        L1(s_axil___05Faraddr) = st_addr; L1(s_axil___05Farvalid) = 1;
                        tick();
                        L1(s_axil___05Farvalid) = 0;
                        v = L1(s_axil___05Frdata);
                        if (!L1(s_axil___05Frvalid)) { std::fprintf(stderr, "l1: no rvalid\n"); return 1; }
                    } else {
                        L2(s_axil___05Faraddr) = st_addr; L2(s_axil___05Farvalid) = 1;
                        tick();
                        L2(s_axil___05Farvalid) = 0;
                        v = L2(s_axil___05Frdata);
                        if (!L2(s_axil___05Frvalid)) { std::fprintf(stderr, "l2: no rvalid\n"); return 1; }
                    }
                    tick();
                    if (!((v >> busy_bit) & 1)) break;
                }
            }
        }
        timer.stop();
        cycles = cycle;
        top->final();
        delete top;
    }
    std::size_t npulses = write_pulse_log(argv[2], log);
    std::printf("{\"samples\": %zu, \"cycles\": %llu, \"pulses\": %zu, \"wall_seconds\": %.6f, "
                "\"cpu_seconds\": %.6f, \"repeat\": %d}\n",
                samples.size(), (unsigned long long)cycles, npulses, timer.best_wall, timer.best_cpu, repeat);
    return 0;
}
