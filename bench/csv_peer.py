"""pandas side of bench/csv_bench.cpp: prints the best of N read_csv times in seconds,
CPU time then wall time.

    /usr/bin/python3 bench/csv_peer.py FILE [RUNS]
"""
import sys
import time

import numpy as np
import pandas as pd


def main():
    path = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    pd.read_csv(path, dtype=np.float32)  # warm-up, as on the tl side
    best = best_wall = float("inf")
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        frame = pd.read_csv(path, dtype=np.float32)
        values = frame.to_numpy()  # the [N, F] array, as tl produces
        best = min(best, time.process_time() - c0)
        best_wall = min(best_wall, time.perf_counter() - t0)
        assert values.shape[0] > 0
    print(f"{best:.6f} {best_wall:.6f}")


if __name__ == "__main__":
    main()
