#!/usr/bin/env python3
"""Comparator: Debian's python3-email-validator over an address list.

    python_email_validator.py LIST [--repeat 3]

Runs email_validator.validate_email(addr, check_deliverability=False) on
every line of LIST (its exceptions caught), --repeat times over the whole
list, and prints the per-pass figures and then one machine-readable line:

    PYTHON_EMAIL_VALIDATOR addresses=N repeats=R median_addr_per_s=X median_ns_per_addr=Y valid=V version=Z

Times are wall-clock (time.perf_counter); CPU time (time.process_time) is
printed alongside. Use the interpreter that has the module (Debian's
/usr/bin/python3).
"""

import argparse
import statistics
import sys
import time

try:
    import email_validator
    from email_validator import EmailNotValidError, validate_email
except ImportError as e:  # pragma: no cover - environment problem
    sys.exit(f"python_email_validator.py: cannot import email_validator ({e}); "
             f"install python3-email-validator and run with /usr/bin/python3")


def one_pass(addresses):
    valid = 0
    for a in addresses:
        try:
            validate_email(a, check_deliverability=False)
            valid += 1
        except EmailNotValidError:
            pass
    return valid


def main():
    p = argparse.ArgumentParser(description="time python email_validator over a list")
    p.add_argument("list")
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()

    with open(args.list, encoding="utf-8") as f:
        addresses = [line.rstrip("\n") for line in f]
    n = len(addresses)
    if n == 0:
        sys.exit("python_email_validator.py: empty list")

    rates, cpu_rates, valid = [], [], 0
    for i in range(args.repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        valid = one_pass(addresses)
        w1, c1 = time.perf_counter(), time.process_time()
        rates.append(n / (w1 - w0))
        cpu_rates.append(n / (c1 - c0) if c1 > c0 else float("nan"))
        print(f"python email_validator pass {i + 1}: {w1 - w0:.3f} s wall, {c1 - c0:.3f} s cpu, "
              f"{rates[-1]:,.0f} addr/s, valid {valid}/{n}", flush=True)

    med = statistics.median(rates)
    version = getattr(email_validator, "__version__", None)
    if version is None:
        try:
            from importlib.metadata import version as dist_version
            version = dist_version("email_validator")
        except Exception:  # noqa: BLE001 - only a label
            version = "unknown"
    print(f"PYTHON_EMAIL_VALIDATOR addresses={n} repeats={args.repeat} "
          f"median_addr_per_s={med:.1f} median_ns_per_addr={1e9 / med:.1f} "
          f"median_cpu_addr_per_s={statistics.median(cpu_rates):.1f} valid={valid} version={version}")


if __name__ == "__main__":
    main()
