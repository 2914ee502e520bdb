#!/usr/bin/python3
"""Tables and the JSON summary of tools/bench.sh, from its work folder:

    /usr/bin/python3 tools/bench_report.py WORK_DIR bench-results.json

WORK_DIR holds config.json, a manifest (lines "train MODEL BATCH TAG", "unsir MODEL CLASSES TAG",
"retrain MODEL CLASSES TAG"), each run's stdout as TAG_....json and its /usr/bin/time -v log as
TAG_....time (absent without /usr/bin/time).
"""
import json
import os
import re
import sys


def load(work, name):
    with open(os.path.join(work, name + ".json")) as f:
        return json.load(f)


def peak_rss_mb(work, name):
    path = os.path.join(work, name + ".time")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", f.read())
    return round(int(m.group(1)) / 1024, 1) if m else None


def num(x, spec=".1f"):
    return "-" if x is None else format(x, spec)


def pct(x):
    return "-" if x is None else f"{100 * x:.1f} %"


def table(title, header, rows, left=1, notes=()):
    """Print a plain-text table: the first `left` columns left-aligned, the others right-aligned."""
    print(title)
    widths = [max(len(c) for c in col) for col in zip(header, *rows)]
    for r in [header, *rows]:
        print("  " + "  ".join(c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip())
    for n in notes:
        print("  " + n)
    print()


def train_results(work, model, batch, tag, epochs):
    short, long_ = load(work, f"{tag}_ours_e1"), load(work, f"{tag}_ours_e{1 + epochs}")
    torch_ = load(work, f"{tag}_torch")
    ours = (long_["epochs"] - short["epochs"]) * long_["samples"] / (long_["seconds"] - short["seconds"])
    return dict(model=model, batch=batch, timed_epochs=epochs, ours_images_per_second=round(ours, 1),
                torch_images_per_second=round(torch_["images_per_second"], 1),
                ours_over_torch=round(ours / torch_["images_per_second"], 3),
                ours_images_per_second_incl_setup=long_["samples_per_second"],
                ours_peak_rss_mb=peak_rss_mb(work, f"{tag}_ours_e{1 + epochs}"),
                torch_peak_rss_mb=peak_rss_mb(work, f"{tag}_torch"), torch_version=torch_["torch"])


def unsir_side(report):
    settings = report.get("hyperparameters") or report["config"]
    side = dict(rounds=report.get("rounds", settings.get("rounds", 1)), timings_s=report["timings_s"],
                impair_lr=settings["impair_lr"], repair_lr=settings["repair_lr"],
                before={k: report["metrics"]["before"][k] for k in ("forget_acc", "retain_acc", "test_acc")},
                after={k: report["metrics"]["after"][k] for k in ("forget_acc", "retain_acc", "test_acc")})
    # ours' rule for further rounds (PyTorch's side runs a fixed count)
    side.update({k: settings[k] for k in ("max_rounds", "impair_lr_growth", "forget_target") if k in settings})
    return side


def main():
    work, out = sys.argv[1], sys.argv[2]
    with open(os.path.join(work, "config.json")) as f:
        cfg = json.load(f)
    with open(os.path.join(work, "manifest")) as f:
        lines = [line.split() for line in f if line.strip()]
    cases = [line[:4] for line in lines]
    with open("/proc/cpuinfo") as f:
        cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "unknown")
    cfg.update(cpu=cpu, cpus=os.cpu_count(), loadavg_at_end=" ".join(f"{x:.2f}" for x in os.getloadavg()))

    train = [train_results(work, m, int(b), tag, int(epochs)) for _, m, b, tag, epochs in (line for line in lines if line[0] == "train")]
    unsir = []
    for kind, model, classes, tag in cases:
        if kind == "unsir":
            ours, torch_ = unsir_side(load(work, f"{tag}_ours")), unsir_side(load(work, f"{tag}_torch"))
            unsir.append(dict(model=model, classes=classes, ours=ours, torch=torch_,
                              total_ours_over_torch=round(ours["timings_s"]["total"] / torch_["timings_s"]["total"], 3)))
    retrain = next((dict(model=m, exclude_classes=c, **load(work, tag)) for kind, m, c, tag in cases if kind == "retrain"), None)
    twin = None  # the UNSIR run (ours) that forgets what the retraining leaves out
    if retrain:
        retrain.pop("output_sha256")
        retrain["test"].pop("per_class_acc")
        twin = next((u for u in unsir if u["model"] == retrain["model"] and u["classes"] == retrain["exclude_classes"]), None)
        retrain["retrain_over_unsir_time"] = round(retrain["seconds"] / twin["ours"]["timings_s"]["total"], 2) if twin else None
        retrain["peak_rss_mb"] = peak_rss_mb(work, tag)

    print(f"onnx-unlearn vs PyTorch {train[0]['torch_version'] if train else ''}: {cfg['threads']} threads each, {cpu} "
          f"({cfg['cpus']} CPUs), load average {cfg['loadavg_at_start']} at start, {cfg['loadavg_at_end']} at end"
          + (" [BENCH_QUICK: smoke sizes]" if cfg["quick"] else ""))
    print()
    table(f"1. Training steps: Adam lr 1e-3, BatchNorm in train mode, first {cfg['train_samples']} samples of "
          f"models/fmnist_train.npz",
          ["model", "batch", "timed epochs", "ours img/s", "torch img/s", "ours/torch", "ours img/s incl. setup", "ours RSS MB", "torch RSS MB"],
          [[t["model"], str(t["batch"]), str(t["timed_epochs"]), num(t["ours_images_per_second"]), num(t["torch_images_per_second"]),
            num(t["ours_over_torch"], ".2f"), num(t["ours_images_per_second_incl_setup"]),
            num(t["ours_peak_rss_mb"], ".0f"), num(t["torch_peak_rss_mb"], ".0f")] for t in train],
          notes=["ours: (E2 - E1) x samples / (seconds of train --epochs E2 - seconds of --epochs E1): graph building and "
                 "the first epoch left out", "torch: tools/bench_torch_train.py, 5 untimed warm-up steps; RSS: peak of the "
                 "whole process (/usr/bin/time -v), ours from the longer run"])

    rows = []
    for u in unsir:
        for side in ("ours", "torch"):
            s = u[side]
            t = s["timings_s"]
            rows.append([u["model"], u["classes"], side, str(s["rounds"]), f"{s['impair_lr']:g} / {s['repair_lr']:g}"]
                        + [num(t[k]) for k in ("noise", "impair", "repair", "total")]
                        + [pct(s["before"]["retain_acc"]), pct(s["after"]["forget_acc"]), pct(s["after"]["retain_acc"])])
    if unsir:
        rule = unsir[0]["ours"]
        table(f"2. UNSIR: noise {cfg['noise_steps']} steps, {cfg['noise_copies']} copies, {cfg['retain_per_class']} retained "
              "per class; seconds per phase, accuracy on models/fmnist_test.npz",
              ["model", "classes", "side", "rounds", "impair / repair lr", "noise s", "impair s", "repair s", "total s",
               "retain acc before", "forget acc after", "retain acc after"], rows, left=3,
              notes=["same recipe on both sides: ours with its defaults for the model; tools/unsir_torch.py given ours' "
                     "--impair-lr, --repair-lr, --noise-batch = our noise samples per class, and --rounds",
                     f"rounds: ours repeats impair+repair (up to {rule['max_rounds']}, impair lr x{rule['impair_lr_growth']:g} "
                     f"each) while the forgotten classes' training samples are still recognised above "
                     f"{100 * rule['forget_target']:g} %; PyTorch runs as many rounds as ours did",
                     "ours' total also holds the graph building of each phase and the forget check of each round"])
        first = {}
        ratio_rows = []
        for u in unsir:
            base = first.setdefault(u["model"], u)
            u["ours_total_over_first_classes"] = round(u["ours"]["timings_s"]["total"] / base["ours"]["timings_s"]["total"], 3)
            ratio_rows.append([u["model"], u["classes"], num(u["total_ours_over_torch"], ".2f"),
                               f"{num(u['ours_total_over_first_classes'], '.2f')} (vs classes {base['classes']})"])
        table("   UNSIR ratios", ["model", "classes", "total ours/torch", "ours total vs first class set"], ratio_rows, left=2)

    if retrain:
        rows = [["retrain (ours)", num(retrain["seconds"]), pct(retrain["test"]["forget_acc"]), pct(retrain["test"]["retain_acc"])]]
        if twin:
            rows.append(["UNSIR (ours)", num(twin["ours"]["timings_s"]["total"]), pct(twin["ours"]["after"]["forget_acc"]),
                         pct(twin["ours"]["after"]["retain_acc"])])
        table(f"3. Retraining {retrain['model']} from scratch without class {retrain['exclude_classes']}: train --reinit "
              f"--exclude-classes {retrain['exclude_classes']}, {retrain['epochs']} epoch(s) on {retrain['samples']} samples",
              ["", "seconds", "forgotten class acc", "retain acc"], rows,
              notes=[f"retrain time / UNSIR time: {num(retrain['retrain_over_unsir_time'], '.2f')}"])

    with open(out, "w") as f:
        json.dump(dict(config=cfg, train=train, unsir=unsir, retrain=retrain), f, indent=2)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
