#!/usr/bin/python3
"""Comparisons for tools/device-check.sh (numpy and onnx only).

    device_compare.py subset SRC.npz DST.npz N           first N samples of an .npz (x, y)
    device_compare.py grad OUT.json TOL NAME CPU.npz DEV.npz [NAME CPU.npz DEV.npz ...]
        per tensor max|dev - cpu| / max|cpu|; PASS when the worst of a pair is <= TOL
    device_compare.py bn OUT.json TOL ORIG.onnx CPU.onnx DEV.onnx
        BatchNorm running mean/var: moved on the device (dev != orig) and agreeing with the CPU
        run: max|dev - cpu| / max|cpu - orig| <= TOL for every statistic
    device_compare.py ratio OUT.json OURS_REPORT.json TORCH.json
        per-phase times of `forget --report` against unsir_torch(_cuda).py --json: ours / torch

Each command prints one line per verdict ('PASS ...' or 'FAIL ...') and writes the figures to
OUT.json; the exit status is 0 when everything passed, 1 when something failed.
"""
import json
import sys

import numpy as np


def rel_diff(ref, other):
    ref = np.asarray(ref, dtype=np.float64)
    other = np.asarray(other, dtype=np.float64)
    if ref.shape != other.shape:
        return float("inf"), f"shape {other.shape} != {ref.shape}"
    if not np.all(np.isfinite(other)):
        return float("inf"), "non-finite values"
    d = float(np.max(np.abs(other - ref))) if ref.size else 0.0
    scale = float(np.max(np.abs(ref))) if ref.size else 0.0
    return (d / scale if scale > 0 else d), None


def cmd_subset(src, dst, n):
    d = np.load(src)
    n = int(n)
    np.savez(dst, x=d["x"][:n], y=d["y"][:n])
    print(f"wrote {dst}: {n} samples of {src}")
    return 0


def cmd_grad(out, tol, *triples):
    tol = float(tol)
    res, ok_all = {}, True
    for i in range(0, len(triples), 3):
        name, cpu_p, dev_p = triples[i:i + 3]
        try:
            cpu, dev = np.load(cpu_p), np.load(dev_p)
        except Exception as e:  # a run that failed left no file
            res[name] = dict(status="FAIL", reason=f"cannot read the gradients: {e}")
            print(f"FAIL {name}: cannot read the gradients ({e})")
            ok_all = False
            continue
        per, notes = {}, []
        for k in cpu.files:
            if k not in dev.files:
                per[k] = float("inf")
                notes.append(f"{k} missing on the device")
                continue
            r, why = rel_diff(cpu[k], dev[k])
            per[k] = r
            if why:
                notes.append(f"{k}: {why}")
        extra = sorted(set(dev.files) - set(cpu.files))
        if extra:
            notes.append(f"only on the device: {extra}")
        grads = {k: v for k, v in per.items() if k != "loss"}
        worst = max(grads, key=grads.get) if grads else None
        worst_rel = grads[worst] if worst else float("inf")
        ok = worst is not None and worst_rel <= tol and per.get("loss", float("inf")) <= tol and not extra
        ok_all &= ok
        res[name] = dict(status="PASS" if ok else "FAIL", tensors=len(grads), worst_tensor=worst,
                         worst_rel=worst_rel, loss_rel=per.get("loss"),
                         loss_cpu=float(cpu["loss"].reshape(-1)[0]) if "loss" in cpu.files else None,
                         loss_dev=float(dev["loss"].reshape(-1)[0]) if "loss" in dev.files else None,
                         median_rel=float(np.median(list(grads.values()))) if grads else None,
                         rel_by_tensor=per, notes=notes)
        print(f"{'PASS' if ok else 'FAIL'} {name}: worst max|dev-cpu|/max|cpu| {worst_rel:.2e} ({worst}), "
              f"median {res[name]['median_rel']:.2e}, loss {per.get('loss', float('nan')):.2e} over "
              f"{len(grads)} tensors (tol {tol:g}){'; ' + '; '.join(notes) if notes else ''}")
    json.dump(dict(tolerance=tol, results=res), open(out, "w"), indent=1)
    return 0 if ok_all else 1


def initializers(path):
    import onnx
    from onnx import numpy_helper
    m = onnx.load(path)
    return m, {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}


def cmd_bn(out, tol, orig_p, cpu_p, dev_p):
    tol = float(tol)
    try:
        m, orig = initializers(orig_p)
        _, cpu = initializers(cpu_p)
        _, dev = initializers(dev_p)
    except Exception as e:
        json.dump(dict(status="FAIL", reason=str(e)), open(out, "w"))
        print(f"FAIL bn: cannot read the models ({e})")
        return 1
    stats = []
    for n in m.graph.node:
        if n.op_type == "BatchNormalization":
            stats += [(n.name or n.output[0], "mean", n.input[3]), (n.name or n.output[0], "var", n.input[4])]
    if not stats:
        print("FAIL bn: no BatchNormalization node in the model")
        return 1
    rows, not_moved, worst = [], [], (0.0, None)
    for node, kind, name in stats:
        o, c, d = (np.asarray(x[name], dtype=np.float64) for x in (orig, cpu, dev))
        moved_cpu = float(np.max(np.abs(c - o)))
        moved_dev = float(np.max(np.abs(d - o)))
        diff = float(np.max(np.abs(d - c)))
        agree = diff / moved_cpu if moved_cpu > 0 else (0.0 if diff == 0 else float("inf"))
        rows.append(dict(initializer=name, stat=kind, moved_cpu=moved_cpu, moved_dev=moved_dev,
                         max_abs_dev_minus_cpu=diff, rel_to_update=agree))
        if not moved_dev > 0:
            not_moved.append(name)
        if agree > worst[0] or worst[1] is None:
            worst = (agree, name)
    # Trained weights (everything but the running statistics): informational.
    stat_names = {s[2] for s in stats}
    w_worst = (0.0, None)
    for name in orig:
        if name in stat_names or name not in cpu or name not in dev or orig[name].dtype.kind != "f":
            continue
        upd = float(np.max(np.abs(cpu[name].astype(np.float64) - orig[name])))
        if upd > 0:
            r = float(np.max(np.abs(dev[name].astype(np.float64) - cpu[name]))) / upd
            if r > w_worst[0] or w_worst[1] is None:
                w_worst = (r, name)
    ok = not not_moved and worst[0] <= tol
    summary = dict(status="PASS" if ok else "FAIL", statistics=len(rows), not_moved_on_device=not_moved,
                   worst_rel_to_update=worst[0], worst_statistic=worst[1], tolerance=tol,
                   weights_worst_rel_to_update=w_worst[0], weights_worst=w_worst[1], rows=rows)
    json.dump(summary, open(out, "w"), indent=1)
    moved_txt = "all moved on the device" if not not_moved else f"{len(not_moved)} NOT updated on the device ({', '.join(not_moved[:4])}...)"
    print(f"{summary['status']} bn: {len(rows)} running statistics, {moved_txt}; worst max|dev-cpu| / "
          f"max|cpu-orig| {worst[0]:.2e} ({worst[1]}; tol {tol:g}); trained weights agree to {w_worst[0]:.2e} of their update")
    return 0 if ok else 1


def cmd_ratio(out, ours_p, torch_p):
    try:
        ours = json.load(open(ours_p))
        ref = json.load(open(torch_p))
    except Exception as e:
        print(f"FAIL ratio: cannot read the reports ({e})")
        return 1
    to, tt = ours["timings_s"], ref["timings_s"]
    ratio = {k: (to[k] / tt[k] if tt.get(k) else None) for k in ("noise", "impair", "repair", "total")}
    mo, mt = ours["metrics"]["after"], ref["metrics"]["after"]
    res = dict(ours_s=to, torch_s=tt, ours_over_torch=ratio,
               ours_after=dict(forget_acc=mo["forget_acc"], retain_acc=mo["retain_acc"], test_acc=mo["test_acc"]),
               torch_after=dict(forget_acc=mt["forget_acc"], retain_acc=mt["retain_acc"], test_acc=mt["test_acc"]),
               ours_samples=ours.get("samples"), torch_samples=dict(retained=ref["config"].get("retained_samples"),
                                                                     impair=ref["config"].get("impair_samples")),
               torch_device=ref["config"].get("device"), torch_warmup_s=ref["config"].get("warmup_s"))
    json.dump(res, open(out, "w"), indent=1)
    f = lambda v: "n/a" if v is None else f"{v:.2f}"  # noqa: E731
    print(f"PASS ratio: ours/torch  noise {f(ratio['noise'])}  impair {f(ratio['impair'])}  repair {f(ratio['repair'])}  "
          f"total {f(ratio['total'])}   (ours {to['total']:.2f} s, torch {tt['total']:.2f} s; after: ours forget "
          f"{100 * mo['forget_acc']:.1f} % retain {100 * mo['retain_acc']:.1f} %, torch forget {100 * mt['forget_acc']:.1f} % "
          f"retain {100 * mt['retain_acc']:.1f} %)")
    return 0


def main(argv):
    cmds = dict(subset=cmd_subset, grad=cmd_grad, bn=cmd_bn, ratio=cmd_ratio)
    if len(argv) < 2 or argv[1] not in cmds:
        print(__doc__)
        return 2
    return cmds[argv[1]](*argv[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
