// Plain Verilator C++ harness of the BNN network top (tb/cosim/bnn_net_run.py: hw.accelerator.Accelerator
// with a network build, hw.bnn_network_engine.BnnNetworkEngine).
//
// Replays the host of the cocotb co-simulation (tb/cosim/bnn_net_tb.py, NetHost over FastAxil) with the
// same bus protocol and the same reactions, cycle for cycle, and closes the array port as
// tb.models.bnn_macro.BnnMacroModel does:
//   * host operations (the stimulus, written by tb/cosim/bnn_net_cxx.py): WRITE (a FastAxil write stream:
//     AWVALID/WVALID high, the next word in the cycle after AWREADY & WREADY took one, done in the cycle
//     after the last B response), READ (ARVALID one cycle, RDATA sampled in the next, done one cycle
//     later; the value is logged), WAIT_IRQ (edges until `irq` is high), POLL (READ until a bit is set),
//     IMAGE / IMAGE_END (bookkeeping: the image in progress and its end cycle);
//   * the macro samples the port in every cycle once the inputs of the cycle are set (cocotb's ReadOnly)
//     and drives rd_valid / rd_bits / sa_out after the next edge. Digital reads return the programmed
//     bits of the word line's bridges read_latency - 1 cycles later; an analog conversion of word line
//     r (hidden layer r / banks_h, bank r % banks_h) answers with the chip model's decisions of that layer
//     for image e = the row's evaluations so far: the stimulus carries them (the golden analog network
//     of every image, computed in Python with the counter-based SA errors), and the harness checks that
//     the inputs the RTL applied for that conversion are exactly golden's inputs of that layer and image
//     (every bias row driven, 0 past the fan-in). An input that differs is a violation: the decisions for
//     other inputs are not modelled here (the cocotb run computes them; either run then fails).
//   * the hidden layers' inputs are observed as in the cocotb run: when the highest word line of a
//     read or evaluation moves to another layer, `in_bits` is compared with golden's input of that
//     layer (the image for layer 0, the previous layer's output bits otherwise) of the image in progress.
// Lanes past a read's bridges and `sa_out` outside the sense window carry pseudo-random garbage.
//
// Stimulus (binary, little-endian uint32 after the 8-byte magic "RBNN0001"): rows, cols, hidden_layers,
// banks_h, bank, inputs_h, bias_h, read_lanes, read_latency, seed, nsizes, sizes[nsizes]; the array
// (rows x ceil(cols/32) words, bit c = bridge c); two tables (digital, analog): images, then per image
// hidden_layers + 1 vectors (vector l: sizes[l] bits in ceil(sizes[l]/32) words: the image, then each
// hidden layer's output bits); then the operations: count, and per operation its code and arguments.
//
// Output: one line per READ ("R value cycle"), per IMAGE_END ("I mode index start end checks mismatches
// violations"), then a JSON summary on stdout (cycles, reads, conversions, violations, wall/CPU seconds).
// Cycle stamps count as the cocotb run's: the macro's sampled cycles before the current edge.
//
// usage: bnn_net_harness STIMULUS OUT [PROGRESS_FILE]
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <fstream>
#include <iterator>
#include <string>
#include <type_traits>
#include <vector>

#include "Vtop.h"
#include "harness_common.h"
#include "verilated.h"

#define AX(x) top->s_axil___05F##x

enum Op : uint32_t { OP_WRITE = 1, OP_READ = 2, OP_WAIT_IRQ = 3, OP_POLL = 4, OP_IMAGE = 5, OP_IMAGE_END = 6 };

// --- wide ports as uint32 words ------------------------------------------------------------------
template <typename T> static void get_words(const T& p, uint32_t* out, std::size_t n) {
    if constexpr (std::is_integral_v<T>) {
        uint64_t v = static_cast<uint64_t>(p);
        for (std::size_t i = 0; i < n; ++i) out[i] = i < 2 ? uint32_t(v >> (32 * i)) : 0;
    } else {
        constexpr std::size_t m = sizeof(T) / sizeof(EData);
        for (std::size_t i = 0; i < n; ++i) out[i] = i < m ? p[i] : 0;
    }
}
// Highest set bit of a port (-1 if none).
template <typename T> static int highest(const T& p) {
    if constexpr (std::is_integral_v<T>) {
        uint64_t v = static_cast<uint64_t>(p);
        return v ? 63 - __builtin_clzll(v) : -1;
    } else {
        constexpr int m = int(sizeof(T) / sizeof(EData));
        for (int i = m - 1; i >= 0; --i)
            if (p[i]) return i * 32 + 31 - __builtin_clz(p[i]);
        return -1;
    }
}
// Lowest set bit and the length of the run of ones from it; false if the ones are not one run.
template <typename T> static bool one_run(const T& p, int& low, int& len) {
    low = -1; len = 0;
    if constexpr (std::is_integral_v<T>) {
        uint64_t v = static_cast<uint64_t>(p);
        if (!v) return true;
        low = __builtin_ctzll(v);
        uint64_t r = v >> low;
        if (r & (r + 1)) return false;
        len = 64 - __builtin_clzll(r);
        return true;
    } else {
        constexpr int m = int(sizeof(T) / sizeof(EData));
        int hi = -1;
        for (int i = 0; i < m; ++i) {
            uint32_t v = p[i];
            if (!v) continue;
            if (low < 0) low = i * 32 + __builtin_ctz(v);
            hi = i * 32 + 31 - __builtin_clz(v);
        }
        if (low < 0) return true;
        len = hi - low + 1;
        // every bit in [low, hi] must be set
        for (int b = low; b <= hi;) {
            int i = b / 32, o = b % 32;
            int take = std::min(32 - o, hi - b + 1);
            uint32_t mask = take == 32 ? 0xFFFFFFFFu : (((1u << take) - 1) << o);
            if ((p[i] & mask) != mask) return false;
            b += take;
        }
        return true;
    }
}
template <typename T> static void set_words(T& p, const uint32_t* w, std::size_t n) {
    if constexpr (std::is_integral_v<T>) p = static_cast<T>(uint64_t(n > 0 ? w[0] : 0) | (uint64_t(n > 1 ? w[1] : 0) << 32));
    else {
        constexpr std::size_t m = sizeof(T) / sizeof(EData);
        for (std::size_t i = 0; i < m; ++i) p[i] = i < n ? w[i] : 0;
    }
}
template <typename T> static void set_small(T& p, uint64_t v) {
    if constexpr (std::is_integral_v<T>) p = static_cast<T>(v);
    else { p[0] = uint32_t(v); if (sizeof(T) / sizeof(EData) > 1) p[1] = uint32_t(v >> 32); }
}

static inline uint64_t xorshift(uint64_t& s) {
    s ^= s << 13; s ^= s >> 7; s ^= s << 17;
    return s;
}
static inline uint32_t bits_at(const std::vector<uint32_t>& w, std::size_t base, int off, int n) {
    // n <= 32 bits from bit `off` of the words starting at w[base]
    uint64_t lo = w[base + off / 32];
    uint64_t hi = (off % 32 && base + off / 32 + 1 < w.size()) ? w[base + off / 32 + 1] : 0;
    uint64_t v = (lo | (hi << 32)) >> (off % 32);
    return n >= 32 ? uint32_t(v) : uint32_t(v & ((1ull << n) - 1));
}

struct Evaluated { int row; std::vector<uint32_t> x; int bias; };

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s STIMULUS OUT [PROGRESS_FILE]\n", argv[0]);
        return 2;
    }
    std::ifstream in(argv[1], std::ios::binary);
    std::vector<char> raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (raw.size() < 56 || std::memcmp(raw.data(), "RBNN0001", 8) != 0) {
        std::fprintf(stderr, "bad stimulus file %s\n", argv[1]);
        return 2;
    }
    std::size_t off = 8;
    auto u32 = [&]() {
        if (off + 4 > raw.size()) { std::fprintf(stderr, "truncated stimulus\n"); std::exit(2); }
        uint32_t v; std::memcpy(&v, raw.data() + off, 4); off += 4; return v;
    };
    const int rows = u32(), cols = u32(), H = u32(), hb = u32(), K = u32(), n_in = u32(), n_bias = u32();
    const int lanes = u32(), read_latency = u32();
    uint64_t rng = 0x9E3779B97F4A7C15ull ^ (uint64_t(u32()) << 1);
    std::vector<int> sizes(u32());
    for (auto& s : sizes) s = u32();
    const int cw = (cols + 31) / 32, xw = (n_in + 31) / 32;
    std::vector<uint32_t> array(std::size_t(rows) * cw);
    for (auto& w : array) w = u32();
    // tables[mode][image][l]: golden's vector l (sizes[l] bits)
    std::vector<std::vector<std::vector<std::vector<uint32_t>>>> tables(2);
    for (int m = 0; m < 2; ++m) {
        tables[m].resize(u32());
        for (auto& img : tables[m]) {
            img.resize(H + 1);
            for (int l = 0; l <= H; ++l) {
                img[l].resize((sizes[l] + 31) / 32);
                for (auto& w : img[l]) w = u32();
            }
        }
    }
    std::vector<uint32_t> ops(u32());
    for (auto& w : ops) w = u32();

    std::FILE* out = std::fopen(argv[2], "w");
    if (!out) { std::fprintf(stderr, "cannot write %s\n", argv[2]); return 2; }
    const char* progress_path = argc > 3 ? argv[3] : nullptr;
    std::size_t total_images = 0;
    for (std::size_t i = 0; i < ops.size();) {
        uint32_t op = ops[i];
        if (op == OP_WRITE) i += 3 + ops[i + 2];
        else if (op == OP_READ) i += 2;
        else if (op == OP_WAIT_IRQ || op == OP_IMAGE_END) i += 1;
        else if (op == OP_POLL) i += 3;
        else if (op == OP_IMAGE) { ++total_images; i += 3; }
        else { std::fprintf(stderr, "bad operation %u at %zu\n", op, i); return 2; }
    }

    VerilatedContext ctx;
    Vtop* top = new Vtop{&ctx};

    // --- the macro ------------------------------------------------------------------------------
    std::vector<std::string> violations;
    std::size_t n_violations = 0;
    auto violate = [&](const std::string& s) { if (violations.size() < 5) violations.push_back(s); ++n_violations; };
    // a read's bits as lw words (full-row reads are up to 4096 bridges wide); pipe slots without a read
    // are empty vectors
    const int lw = (lanes + 31) / 32;
    std::deque<std::vector<uint32_t>> pipe(std::max(0, read_latency - 2));
    std::vector<uint32_t> x_applied(xw, 0), xbuf(xw), wbuf((2 * cols + 31) / 32 + 2);
    bool have_x = false;
    int bias_applied = n_bias;
    std::deque<Evaluated> evaluated;
    int evaluating = -1;
    uint64_t sensed = 0;
    std::vector<uint64_t> evals(rows, 0);
    uint64_t bridge_reads = 0, word_reads = 0, decisions = 0;
    uint64_t nxt_valid = 0, nxt_sa = 0;
    std::vector<uint32_t> nxt_bits(lw, 0);
    bool nxt_pending = false;
    // activation checks of the image in progress
    int cur_mode = -1, cur_image = -1, layer_now = -1;
    uint64_t img_checks = 0, img_mis = 0, img_viol0 = 0, img_start = 0, act_checks = 0, act_mis = 0;
    std::vector<std::string> first;

    uint64_t cycle = 0;        // sampled cycles (cocotb: stats["cycles"])
    int skip = 1;              // the cocotb macro loop starts sampling after its first edge
    bool macro_on = false;

    auto sample_and_step = [&]() {
        const bool rd = top->read;
        const uint32_t stages = top->sa_stages, firsts = top->sa_firsts;
        const bool ien = top->input_en;
        int hi = (rd || (stages & 4)) ? highest(top->wl) : -1;
        // observe: the layer of the highest word line; a change of layer -> compare in_bits
        if (hi >= 0) {
            int layer = hi / hb;
            if (layer != layer_now) {
                layer_now = layer;
                if (layer < H && cur_image >= 0) {
                    get_words(top->in_bits, xbuf.data(), xw);
                    const auto& want = tables[cur_mode][cur_image][layer];
                    bool ok = true;
                    for (int b = 0; b < sizes[layer]; b += 32) {
                        int n = std::min(32, sizes[layer] - b);
                        uint32_t mask = n == 32 ? 0xFFFFFFFFu : ((1u << n) - 1);
                        if ((xbuf[b / 32] & mask) != (want[b / 32] & mask)) ok = false;
                    }
                    ++img_checks; ++act_checks;
                    if (!ok) {
                        ++img_mis; ++act_mis;
                        if (first.size() < 5)
                            first.push_back(std::string(cur_mode ? "analog" : "digital") + " image " +
                                            std::to_string(cur_image) + ": input of hidden layer " +
                                            std::to_string(layer) + " differs from golden");
                    }
                }
            }
        }
        // digital reads
        std::vector<uint32_t> out_bits;
        if (rd) {
            int row = onehot(top->wl), low, len;
            bool run = one_run(top->bl_read, low, len);
            int n = len / 2;
            if (row < 0 || low < 0 || !run || (low & 1) || (len & 1) || n > lanes || low / 2 + n > cols) {
                violate("cycle " + std::to_string(cycle) + ": bad read lines");
            } else {
                // bridges low/2 .. low/2 + n - 1 in lanes 0 .. n-1, garbage in lanes n .. lanes-1
                out_bits.assign(lw, 0);
                for (int w = 0; w < lw; ++w) {
                    int b0 = w * 32, take = std::min(32, n - b0);
                    uint32_t v = take > 0 ? bits_at(array, std::size_t(row) * cw, low / 2 + b0, take) : 0;
                    int top_lanes = std::min(32, lanes - b0);
                    uint32_t lane_mask = top_lanes >= 32 ? 0xFFFFFFFFu : ((1u << top_lanes) - 1);
                    uint32_t keep = take >= 32 ? 0xFFFFFFFFu : (take <= 0 ? 0u : ((1u << take) - 1));
                    out_bits[w] = v | (uint32_t(xorshift(rng)) & lane_mask & ~keep);
                }
                bridge_reads += n;
                ++word_reads;
            }
        }
        std::vector<uint32_t> arrived = std::move(out_bits);
        if (!pipe.empty()) { pipe.push_back(std::move(arrived)); arrived = std::move(pipe.front()); pipe.pop_front(); }
        // analog conversions
        if (ien) {
            get_words(top->in_bits, x_applied.data(), xw);
            have_x = true;
            if (n_bias) {
                uint32_t bw[8] = {0};
                get_words(top->bias_in, bw, (n_bias + 31) / 32);
                int r = 0;
                for (int i = 0; i < (n_bias + 31) / 32; ++i) r += __builtin_popcount(bw[i]);
                // thermometer: the r lowest bits set
                for (int b = 0; b < n_bias; ++b)
                    if (((bw[b / 32] >> (b % 32)) & 1) != (b < r ? 1u : 0u)) {
                        violate("cycle " + std::to_string(cycle) + ": bias_in is not a thermometer code");
                        break;
                    }
                bias_applied = r;
            }
        }
        if ((stages >> 2) & 1) {
            int b = onehot(top->wl);
            if ((firsts >> 2) & 1) {
                if (b < 0 || !have_x) violate("cycle " + std::to_string(cycle) + ": evaluate without one word line / inputs");
                evaluating = b;
                evaluated.push_back({have_x ? b : -1, x_applied, bias_applied});
            } else if (b != evaluating) {
                violate("cycle " + std::to_string(cycle) + ": word lines change during an evaluation");
            }
        }
        if ((firsts >> 3) & 1) {
            if (evaluated.empty()) {
                violate("cycle " + std::to_string(cycle) + ": SA decision of a conversion never evaluated");
                sensed = 0;
            } else {
                Evaluated e = std::move(evaluated.front());
                evaluated.pop_front();
                if (e.row < 0) {
                    sensed = 0;
                } else {
                    int layer = e.row / hb, bank = e.row % hb;
                    uint64_t img = evals[e.row]++;
                    ++decisions;
                    sensed = 0;
                    if (layer >= H) {
                        violate("cycle " + std::to_string(cycle) + ": analog evaluation of output-layer row " + std::to_string(e.row));
                    } else if (img >= tables[1].size()) {
                        violate("cycle " + std::to_string(cycle) + ": analog evaluation of image " + std::to_string(img) +
                                " of row " + std::to_string(e.row) + ": no golden decisions for it");
                    } else {
                        if (e.bias != n_bias) violate("cycle " + std::to_string(cycle) + ": not every bias row driven");
                        const auto& want = tables[1][img][layer];
                        bool same = true;
                        for (int w = 0; w < xw && same; ++w) {
                            int b0 = w * 32, n = std::min(32, sizes[layer] - b0);
                            uint32_t mask = n >= 32 ? 0xFFFFFFFFu : (n <= 0 ? 0u : ((1u << n) - 1));
                            uint32_t wv = n > 0 ? want[w] & mask : 0;
                            if (e.x[w] != wv) same = false;     // 0 past the fan-in too
                        }
                        if (!same)
                            violate("cycle " + std::to_string(cycle) + ": analog conversion of row " + std::to_string(e.row) +
                                    " (image " + std::to_string(img) + ") with inputs other than golden's layer input");
                        const auto& dec = tables[1][img][layer + 1];
                        for (int k = 0; k < K; ++k) {
                            int j = bank * K + k;
                            if (j < sizes[layer + 1] && ((dec[j / 32] >> (j % 32)) & 1)) sensed |= 1ull << k;
                        }
                    }
                }
            }
        }
        uint64_t sa = ((stages >> 3) & 1) ? sensed : (xorshift(rng) & ((K >= 64) ? ~0ull : ((1ull << K) - 1)));
        nxt_valid = !arrived.empty();
        if (nxt_valid) nxt_bits = arrived;
        else std::fill(nxt_bits.begin(), nxt_bits.end(), 0u);
        nxt_sa = sa;
        nxt_pending = true;
    };

    // one clock period in two halves: settle() with the cycle's inputs set (clock low; the macro samples,
    // as cocotb's ReadOnly), edge() (clock high; then the macro drives its answer, as after RisingEdge)
    auto settle = [&]() {
        top->clk = 0; top->eval();
        if (macro_on) {
            if (skip) --skip;
            else { sample_and_step(); ++cycle; }
        }
    };
    auto edge = [&]() {
        top->clk = 1; top->eval();
        if (nxt_pending) {
            top->rd_valid = nxt_valid;
            set_words(top->rd_bits, nxt_bits.data(), nxt_bits.size());
            set_small(top->sa_out, nxt_sa);
            nxt_pending = false;
        }
    };
    auto tick = [&]() { settle(); edge(); };

    top->rst = 1; top->clk = 0;
    AX(bready) = 1; AX(rready) = 1; AX(wstrb) = 0xF;
    top->eval();
    for (int i = 0; i < 3; ++i) tick();
    top->rst = 0;
    tick();
    macro_on = true;   // its first sample: the cycle after the next edge

    ReplayTimer timer;
    timer.start();
    std::size_t images_done = 0;
    std::size_t reads_logged = 0;
    // The cocotb host reads stats["cycles"] right after an edge, before the macro sampled that cycle:
    // the sampled cycles so far.
    auto host_read = [&](uint32_t addr) -> uint32_t {
        AX(araddr) = addr; AX(arvalid) = 1;
        tick();
        AX(arvalid) = 0;
        settle();
        if (!AX(rvalid) || AX(rresp)) {
            std::fprintf(stderr, "read %#x: rvalid %d rresp %d\n", addr, int(AX(rvalid)), int(AX(rresp)));
            std::exit(1);
        }
        uint32_t v = AX(rdata);
        edge();
        return v;
    };
    for (std::size_t i = 0; i < ops.size();) {
        uint32_t op = ops[i];
        if (op == OP_WRITE) {
            uint32_t addr = ops[i + 1], n = ops[i + 2];
            const uint32_t* w = &ops[i + 3];
            i += 3 + n;
            if (!n) continue;
            AX(awaddr) = addr; AX(wdata) = w[0]; AX(awvalid) = 1; AX(wvalid) = 1;
            uint32_t sent = 0, acked = 0;
            while (acked < n) {
                settle();
                bool took = sent < n && AX(awready) && AX(wready);
                bool b = AX(bvalid);
                if (b && AX(bresp)) { std::fprintf(stderr, "write %#x: response %d\n", addr, int(AX(bresp))); return 1; }
                if (b) ++acked;
                edge();
                if (took) {
                    if (++sent < n) AX(wdata) = w[sent];
                    else { AX(awvalid) = 0; AX(wvalid) = 0; }
                }
            }
        } else if (op == OP_READ) {
            uint32_t v = host_read(ops[i + 1]);
            std::fprintf(out, "R %u %llu\n", v, (unsigned long long)cycle);
            ++reads_logged;
            i += 2;
        } else if (op == OP_WAIT_IRQ) {
            while (!top->irq) tick();     // irq: from registers, settled by the edge
            i += 1;
        } else if (op == OP_POLL) {
            uint32_t addr = ops[i + 1], bit = ops[i + 2];
            while (!((host_read(addr) >> bit) & 1)) {}
            i += 3;
        } else if (op == OP_IMAGE) {
            cur_mode = int(ops[i + 1]);
            cur_image = int(ops[i + 2]);
            if (cur_mode < 0 || cur_mode > 1 || cur_image >= int(tables[cur_mode].size())) {
                std::fprintf(stderr, "image %d of mode %d: not in the stimulus tables\n", cur_image, cur_mode);
                return 2;
            }
            img_checks = img_mis = 0;
            img_viol0 = n_violations;
            img_start = cycle;
            i += 3;
        } else {   // OP_IMAGE_END
            std::fprintf(out, "I %d %d %llu %llu %llu %llu %llu\n", cur_mode, cur_image,
                         (unsigned long long)img_start, (unsigned long long)cycle,
                         (unsigned long long)img_checks, (unsigned long long)img_mis,
                         (unsigned long long)(n_violations - img_viol0));
            ++images_done;
            if (progress_path && (images_done % 50 == 0 || images_done == total_images)) {
                std::FILE* p = std::fopen(progress_path, "w");
                if (p) { std::fprintf(p, "%zu %zu", images_done, total_images); std::fclose(p); }
            }
            i += 1;
        }
    }
    timer.stop();
    std::fclose(out);
    top->final();
    delete top;
    std::string viol = "[";
    for (std::size_t k = 0; k < violations.size(); ++k) viol += (k ? ", \"" : "\"") + violations[k] + "\"";
    viol += "]";
    std::string fm = "[";
    for (std::size_t k = 0; k < first.size(); ++k) fm += (k ? ", \"" : "\"") + first[k] + "\"";
    fm += "]";
    std::printf("{\"images\": %zu, \"reads_logged\": %zu, \"cycles\": %llu, \"word_reads\": %llu, \"bridge_reads\": %llu, "
                "\"sa_decisions\": %llu, \"activation_checks\": %llu, \"activation_mismatches\": %llu, "
                "\"violation_count\": %zu, \"violations\": %s, \"first_mismatches\": %s, "
                "\"wall_seconds\": %.6f, \"cpu_seconds\": %.6f}\n",
                images_done, reads_logged, (unsigned long long)cycle, (unsigned long long)word_reads,
                (unsigned long long)bridge_reads, (unsigned long long)decisions, (unsigned long long)act_checks,
                (unsigned long long)act_mis, n_violations, viol.c_str(), fm.c_str(), timer.best_wall, timer.best_cpu);
    return 0;
}
