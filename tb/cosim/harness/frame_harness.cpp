// Plain Verilator C++ harness of frame_cosim_top (tb/cosim/frame_run.py: two accelerator tops, one
// per MLP layer, each trained through its AXI4-Stream frame input by a testbench FrameLoader).
//
// Replays the frames recorded by the cocotb co-simulation (tb/cosim/frame_tb.py) with exactly the
// same reactions, cycle for cycle, and no Python. Per sample, both layers in parallel:
//   * the frame goes into the layer's FrameLoader (wide `words`, `n`, a new `frame` tag) in the
//     cycle after the previous sample ended (after reset: right after the first edge);
//   * when the loader's `done` has fallen and risen again, a poll-only batch starts on the layer's
//     AxilSequencer (new `batch` tag; n = 0, poll = 1: STATUS.BUSY read until 0);
//   * the layer is finished when the sequencer's `done` has fallen and risen again; the sample
//     ends when both layers are finished.
// Pulses are logged at every rising edge of each layer's `write` (cycle, word line, column,
// polarity) so the log can be compared with the cocotb run's. With -DSTAND_IN (the top built with
// FrameTally stand-ins) the tallies are printed too. Prints one JSON line with cycles, pulses and
// wall/CPU seconds of the replay loop.
//
// Stimulus (binary, little-endian uint32 after the 8-byte magic "RFRM0001"): status_addr, busy_bit,
// stand_in, layers (2); then per sample, per layer: n and the n frame words.
//
// usage: frame_harness STIMULUS PULSES_OUT [REPEAT]
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iterator>
#include <string>
#include <type_traits>
#include <vector>

#include "Vtop.h"
#include "harness_common.h"
#include "verilated.h"

// --- port access --------------------------------------------------------------------------------
template <typename T> static void load_words(T& w, const std::vector<uint32_t>& src) {
    constexpr std::size_t n = sizeof(T) / sizeof(EData);
    for (std::size_t i = 0; i < n; ++i) w[i] = i < src.size() ? src[i] : 0;
}

// Per-layer port access, generated for l1 and l2 (Verilator spells "__" in port names as "___05F").
#define LAYER(k, P)                                                                                   \
    static void load_##k(Vtop* top, const std::vector<uint32_t>& w, uint8_t tag) {                    \
        load_words(top->P##___05Fframe___05Fwords, w);                                                \
        top->P##___05Fframe___05Fn = w.size();                                                        \
        top->P##___05Fframe___05Fframe = tag;                                                         \
    }                                                                                                 \
    static bool frame_done_##k(Vtop* top) { return top->P##___05Fframe___05Fdone; }                  \
    static bool seq_done_##k(Vtop* top) { return top->P##___05Fseq___05Fdone; }                      \
    static void poll_##k(Vtop* top, uint8_t tag) { top->P##___05Fseq___05Fbatch = tag; }             \
    static bool write_##k(Vtop* top) { return top->P##___05Fwrite; }                                 \
    static Pulse pulse_##k(Vtop* top, uint64_t cycle) {                                               \
        return {cycle, onehot(top->P##___05Fwl), onehot_or(top->P##___05Fbl_set, top->P##___05Fsl_reset), \
                any(top->P##___05Fbl_set) ? 1 : 0};                                                   \
    }                                                                                                 \
    static void setup_##k(Vtop* top, unsigned st_addr) {                                              \
        top->P##___05Fadc = 0;                                                                        \
        top->P##___05Fseq_en = 1;                                                                     \
        top->P##___05Fseq___05Faddr = 0;                                                              \
        top->P##___05Fseq___05Fpoll_addr = st_addr;                                                   \
        top->P##___05Fseq___05Fn = 0;                                                                 \
        top->P##___05Fseq___05Fpoll = 1;                                                              \
        top->P##___05Fseq___05Fbatch = 0;                                                             \
        top->P##___05Fframe___05Fframe = 0;                                                           \
        top->P##___05Fframe___05Fn = 0;                                                               \
    }
LAYER(0, l1)
LAYER(1, l2)

struct LayerIO {
    void (*load)(Vtop*, const std::vector<uint32_t>&, uint8_t);
    bool (*frame_done)(Vtop*);
    bool (*seq_done)(Vtop*);
    void (*poll)(Vtop*, uint8_t);
    bool (*write)(Vtop*);
    Pulse (*pulse)(Vtop*, uint64_t);
    void (*setup)(Vtop*, unsigned);
};
static const LayerIO IO[2] = {
    {load_0, frame_done_0, seq_done_0, poll_0, write_0, pulse_0, setup_0},
    {load_1, frame_done_1, seq_done_1, poll_1, write_1, pulse_1, setup_1},
};

// The layer's progress through one sample (each wait: `done` falls, then rises).
enum Phase { FRAME_FALL, FRAME_RISE, POLL_FALL, POLL_RISE, FINISHED };

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s STIMULUS PULSES_OUT [REPEAT]\n", argv[0]);
        return 2;
    }
    int repeat = argc > 3 ? std::atoi(argv[3]) : 1;
    std::ifstream in(argv[1], std::ios::binary);
    std::vector<char> raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (raw.size() < 24 || std::memcmp(raw.data(), "RFRM0001", 8) != 0) {
        std::fprintf(stderr, "bad stimulus file %s\n", argv[1]);
        return 2;
    }
    auto u32 = [&](std::size_t off) { uint32_t v; std::memcpy(&v, raw.data() + off, 4); return v; };
    unsigned st_addr = u32(8), busy_bit = u32(12), stand_in = u32(16), layers = u32(20);
    (void)busy_bit;
    if (layers != 2) { std::fprintf(stderr, "stimulus has %u layers, harness has 2\n", layers); return 2; }
    std::vector<std::vector<uint32_t>> frames[2];
    for (std::size_t off = 24; off < raw.size();) {
        for (int k = 0; k < 2; ++k) {
            uint32_t n = u32(off);
            off += 4;
            if (off + 4ull * n > raw.size()) { std::fprintf(stderr, "truncated stimulus\n"); return 2; }
            frames[k].emplace_back(n);
            std::memcpy(frames[k].back().data(), raw.data() + off, 4ull * n);
            off += 4ull * n;
        }
    }
    std::size_t nsamples = frames[0].size();

    ReplayTimer timer;
    uint64_t cycles = 0;
    std::vector<Pulse> log[2];
    uint32_t tally[2][3] = {{0, 0, 0}, {0, 0, 0}};
    for (int rep = 0; rep < repeat; ++rep) {
        VerilatedContext ctx;
        Vtop* top = new Vtop{&ctx};
        log[0].clear(); log[1].clear();
        uint64_t cycle = 0;
        bool counting = false;
        bool prev_w[2] = {false, false};
        auto tick = [&]() {
            top->clk = 0; top->eval();
            top->clk = 1; top->eval();
            if (!counting) return;
            ++cycle;
            for (int k = 0; k < 2; ++k) {
                bool w = IO[k].write(top);
                if (w && !prev_w[k]) log[k].push_back(IO[k].pulse(top, cycle));
                prev_w[k] = w;
            }
        };
        top->rst = 1; top->clk = 0;
        for (int k = 0; k < 2; ++k) IO[k].setup(top, st_addr);
        top->eval();
        for (int i = 0; i < 3; ++i) tick();
        top->rst = 0;
        tick();
        counting = true;   // cycle 0 is the period after the first edge with reset released
        cycle = 0;

        uint8_t ftag[2] = {0, 0}, ptag[2] = {0, 0};
        timer.start();
        for (std::size_t s = 0; s < nsamples; ++s) {
            Phase ph[2];
            bool prev[2];
            for (int k = 0; k < 2; ++k) {
                IO[k].load(top, frames[k][s], ++ftag[k]);
                ph[k] = FRAME_FALL;
                prev[k] = IO[k].frame_done(top);
            }
            while (ph[0] != FINISHED || ph[1] != FINISHED) {
                tick();
                for (int k = 0; k < 2; ++k) {
                    if (ph[k] == FINISHED) continue;
                    bool frame_phase = ph[k] == FRAME_FALL || ph[k] == FRAME_RISE;
                    bool d = frame_phase ? IO[k].frame_done(top) : IO[k].seq_done(top);
                    bool fell = prev[k] && !d, rose = !prev[k] && d;
                    prev[k] = d;
                    if ((ph[k] == FRAME_FALL || ph[k] == POLL_FALL) && fell) {
                        ph[k] = Phase(ph[k] + 1);
                    } else if (ph[k] == FRAME_RISE && rose) {
                        IO[k].poll(top, ++ptag[k]);     // the poll starts in the next cycle
                        ph[k] = POLL_FALL;
                        prev[k] = IO[k].seq_done(top);
                    } else if (ph[k] == POLL_RISE && rose) {
                        ph[k] = FINISHED;
                    }
                }
            }
        }
        timer.stop();
        cycles = cycle;
#ifdef STAND_IN
        tally[0][0] = top->l1___05Ftally___05Fwords; tally[0][1] = top->l1___05Ftally___05Fframes;
        tally[0][2] = top->l1___05Ftally___05Fchecksum;
        tally[1][0] = top->l2___05Ftally___05Fwords; tally[1][1] = top->l2___05Ftally___05Fframes;
        tally[1][2] = top->l2___05Ftally___05Fchecksum;
#endif
        top->final();
        delete top;
    }
    std::size_t npulses = write_pulse_log(argv[2], log);
    std::printf("{\"samples\": %zu, \"cycles\": %llu, \"pulses\": %zu, \"wall_seconds\": %.6f, "
                "\"cpu_seconds\": %.6f, \"repeat\": %d, \"stand_in\": %u, "
                "\"tally\": [[%u, %u, %u], [%u, %u, %u]]}\n",
                nsamples, (unsigned long long)cycles, npulses, timer.best_wall, timer.best_cpu, repeat, stand_in,
                tally[0][0], tally[0][1], tally[0][2], tally[1][0], tally[1][1], tally[1][2]);
    return 0;
}
