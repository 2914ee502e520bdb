#!/usr/bin/env python3
"""Summarise ONNX Runtime profiles (the PREFIX_*.json files that ONNX_UNLEARN_PROFILE=PREFIX makes
every session of onnx-unlearn write): per session, the runs, the time per run, and where it goes
by op type and execution provider, with the slowest nodes.

    ONNX_UNLEARN_PROFILE=/tmp/prof/train onnx-unlearn train ... --device cuda
    python3 tools/profile_summary.py /tmp/prof/train_*.json [--top 15]

Node times are ORT's kernel times (on CUDA: the launch side unless the kernel synchronises); the
gap between a run's time and its nodes' sum is ORT's own overhead per run.
"""
import argparse
import collections
import json
import sys


def summarise(path, top):
    events = json.load(open(path))
    runs = [e for e in events if e.get("cat") == "Session" and e.get("name") == "model_run"]
    nodes = [e for e in events if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time")]
    if not runs:
        print(f"{path}: no runs")
        return
    setup = {e["name"]: e["dur"] for e in events if e.get("cat") == "Session" and e.get("name") in ("model_loading_array", "session_initialization")}
    run_us = sum(e["dur"] for e in runs)
    node_us = sum(e["dur"] for e in nodes)
    per_run = len(nodes) / len(runs)
    print(f"{path}: {len(runs)} runs, {run_us / len(runs) / 1000:.2f} ms a run, nodes {node_us / len(runs) / 1000:.2f} ms a run"
          f" ({per_run:.0f} node executions a run; the rest, {(run_us - node_us) / len(runs) / 1000:.2f} ms, is ORT's own)")
    if setup:
        print("  set-up: " + ", ".join(f"{k} {v / 1000:.1f} ms" for k, v in setup.items()))
    by_op = collections.defaultdict(lambda: [0, 0])
    by_provider = collections.defaultdict(lambda: [0, 0])
    by_node = collections.defaultdict(int)
    for e in nodes:
        a = e.get("args", {})
        op, provider = a.get("op_name", "?"), a.get("provider", "?")
        by_op[(op, provider)][0] += e["dur"]
        by_op[(op, provider)][1] += 1
        by_provider[provider][0] += e["dur"]
        by_provider[provider][1] += 1
        by_node[(e["name"][:-len("_kernel_time")], op)] += e["dur"]
    for provider, (us, n) in sorted(by_provider.items(), key=lambda p: -p[1][0]):
        print(f"  provider {provider}: {us / len(runs) / 1000:.2f} ms a run, {n / len(runs):.0f} nodes a run")
    print(f"  {'op type':<28} {'provider':<22} {'ms/run':>8} {'share':>6} {'nodes/run':>9}")
    for (op, provider), (us, n) in sorted(by_op.items(), key=lambda p: -p[1][0])[:top]:
        print(f"  {op:<28} {provider:<22} {us / len(runs) / 1000:8.3f} {100 * us / max(node_us, 1):5.1f}% {n / len(runs):9.1f}")
    print("  slowest nodes:")
    for (name, op), us in sorted(by_node.items(), key=lambda p: -p[1])[:top]:
        print(f"    {us / len(runs) / 1000:8.3f} ms  {op:<20} {name}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("profiles", nargs="+")
    ap.add_argument("--top", type=int, default=15)
    args = ap.parse_args()
    for p in args.profiles:
        try:
            summarise(p, args.top)
        except (OSError, ValueError, KeyError) as e:
            print(f"{p}: unreadable ({e})", file=sys.stderr)


if __name__ == "__main__":
    main()
