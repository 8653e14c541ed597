// Shared pieces of the plain Verilator C++ harnesses (cosim_harness.cpp, frame_harness.cpp): one-hot
// decoding of scalar and wide ports, the pulse record and log file, and the best-of-N replay timer.
#pragma once

#include <chrono>
#include <cstdint>
#include <ctime>
#include <fstream>
#include <type_traits>
#include <vector>

#include "verilated.h"

// Index of the one set bit of a | b; -1 if none, -2 if several. T: an integral port or a VlWide.
template <typename T> static int onehot_or(const T& a, const T& b) {
    if constexpr (std::is_integral_v<T>) {
        uint64_t v = static_cast<uint64_t>(a) | static_cast<uint64_t>(b);
        if (!v || (v & (v - 1))) return v ? -2 : -1;
        return __builtin_ctzll(v);
    } else {
        int idx = -1;
        for (std::size_t i = 0; i < sizeof(T) / sizeof(EData); ++i) {
            uint32_t v = a[i] | b[i];
            if (!v) continue;
            if ((v & (v - 1)) || idx >= 0) return -2;
            idx = int(i) * 32 + __builtin_ctz(v);
        }
        return idx;
    }
}
template <typename T> static int onehot(const T& a) { return onehot_or(a, a); }
template <typename T> static bool any(const T& a) {
    if constexpr (std::is_integral_v<T>) return a != 0;
    else {
        for (std::size_t i = 0; i < sizeof(T) / sizeof(EData); ++i) if (a[i]) return true;
        return false;
    }
}

struct Pulse { uint64_t cycle; int row, col, pol; };

// One line per layer: "cycle row col pol" per pulse, space separated (the cocotb run's format).
// Returns the number of pulses written.
static std::size_t write_pulse_log(const char* path, const std::vector<Pulse> (&log)[2]) {
    std::ofstream out(path);
    std::size_t npulses = 0;
    for (int k = 0; k < 2; ++k) {
        for (std::size_t i = 0; i < log[k].size(); ++i) {
            const auto& p = log[k][i];
            out << (i ? " " : "") << p.cycle << " " << p.row << " " << p.col << " " << p.pol;
        }
        out << "\n";
        npulses += log[k].size();
    }
    return npulses;
}

// Wall and process CPU time of the replay loop, the best over the repetitions.
struct ReplayTimer {
    double best_wall = 1e30, best_cpu = 1e30;
    std::chrono::steady_clock::time_point t0;
    std::clock_t c0 = 0;
    void start() { t0 = std::chrono::steady_clock::now(); c0 = std::clock(); }
    void stop() {
        double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        double cpu = double(std::clock() - c0) / CLOCKS_PER_SEC;
        if (wall < best_wall) best_wall = wall;
        if (cpu < best_cpu) best_cpu = cpu;
    }
};
