"""Runs an example twice, compiled (the default) and with TL_COMPILE=0, and checks that both
print the same numbers (loss curve, accuracy) within float tolerance."""
import os
import re
import subprocess
import sys

NUMBER = re.compile(r"[-+]?\d+\.\d+(?:[eE][-+]?\d+)?")


def run(binary, compile_on):
    env = dict(os.environ, TL_COMPILE="1" if compile_on else "0")
    out = subprocess.run([binary], env=env, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        sys.exit(f"{binary} (TL_COMPILE={env['TL_COMPILE']}) failed with {out.returncode}:\n{out.stdout}{out.stderr}")
    # Timings differ between runs by nature; everything else must match.
    lines = [l for l in out.stdout.splitlines() if not re.search(r"\(\d+\.\d+ s\)", l)]
    return lines


def main():
    binary = sys.argv[1]
    compiled, eager = run(binary, True), run(binary, False)
    if len(compiled) != len(eager):
        sys.exit(f"different output lengths:\ncompiled:\n" + "\n".join(compiled) + "\neager:\n" + "\n".join(eager))
    worst = 0.0
    for c, e in zip(compiled, eager):
        cn, en = NUMBER.findall(c), NUMBER.findall(e)
        if NUMBER.sub("#", c) != NUMBER.sub("#", e) or len(cn) != len(en):
            sys.exit(f"lines differ:\n  compiled: {c}\n  eager:    {e}")
        for a, b in zip(cn, en):
            a, b = float(a), float(b)
            # Printed with 3-5 decimals: allow one unit in the last printed place, relative.
            diff = abs(a - b) / max(abs(b), 1e-2)
            worst = max(worst, diff)
            if diff > 2e-3:
                sys.exit(f"numbers differ beyond tolerance:\n  compiled: {c}\n  eager:    {e}")
    print(f"{len(compiled)} lines match; largest relative difference {worst:.2e}")
    print("\n".join(compiled))


if __name__ == "__main__":
    main()
