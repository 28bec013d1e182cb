"""Calibrate assistant/grounding.py on eval/grounding/claims.jsonl and report it on the held-out half.

Each claim cites passages by factor-table row ({"factor": ...}) or by a quote the passage holds
({"quote": ...}), resolved in the index. The claims are split by kind, alternately (the first of each
kind to calibration, the second to held-out, ...). WEIGHT and THRESHOLD are chosen on the calibration
half (best accuracy; ties: the higher threshold, which drops more), then precision and recall of
"unsupported" detection and of "supported" acceptance are measured on the held-out half.

    HF_HUB_OFFLINE=1 ASSISTANT_INDEX_DIR=... python eval/grounding_calibration.py [--related-dir DIR]
        -> eval/grounding_calibration.md
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from assistant.config import load_settings
from assistant.grounding import Checker
from assistant.service import Assistant

HERE = Path(__file__).parent


def resolve(kb, cite: dict):
    if "factor" in cite:
        return next(d for d in kb.factor_rows if d.metadata["factor"] == cite["factor"])
    q = " ".join(cite["quote"].split()).lower()
    hits = [d for d in kb.docs if d.metadata.get("kind") != "factor_row" and not d.metadata.get("kind", "").startswith("factor_")
            and q in " ".join((d.metadata.get("quote") or d.page_content).split()).lower()]
    if not hits:
        raise SystemExit(f"no passage holds {cite['quote']!r}")
    return min(hits, key=lambda d: len(d.page_content))


def split(claims: list[dict]) -> tuple[list[dict], list[dict]]:
    seen: dict[str, int] = {}
    cal, held = [], []
    for c in claims:
        k = f"{c['kind']}/{c['label']}"
        (cal if seen.get(k, 0) % 2 == 0 else held).append(c)
        seen[k] = seen.get(k, 0) + 1
    return cal, held


def rates(pred: list[bool], gold: list[bool]) -> dict:
    """pred/gold: True = supported. Precision/recall of both classes."""
    def pr(cls: bool):
        tp = sum(p == cls and g == cls for p, g in zip(pred, gold))
        npred, ngold = sum(p == cls for p in pred), sum(g == cls for g in gold)
        return (tp / npred if npred else None), (tp / ngold if ngold else None), tp, npred, ngold
    acc = sum(p == g for p, g in zip(pred, gold)) / len(gold)
    return {"unsupported": pr(False), "supported": pr(True), "accuracy": acc}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=HERE / "grounding_calibration.md")
    args = ap.parse_args()
    assistant = Assistant(load_settings())
    kb = assistant.kb
    claims = [json.loads(line) for line in (HERE / "grounding" / "claims.jsonl").read_text().splitlines() if line.strip()]
    for c in claims:
        c["docs"] = [resolve(kb, x) for x in c["cites"]]
        c["answer"] = c["claim"].rstrip(".") + " " + "".join(f"[{i}]" for i in range(1, len(c["docs"]) + 1)) + "."
    cal, held = split(claims)
    checker = Checker(assistant.kb.sentence_vectors)
    checker.check(claims[0]["answer"], claims[0]["docs"])  # warm the encoder

    def predict(subset, weight, threshold):
        checker.weight, checker.threshold = weight, threshold
        return [checker.check(c["answer"], c["docs"]).claims[0].supported for c in subset]

    grid = []
    for w in [x / 10 for x in range(0, 11)]:
        for t in [x / 100 for x in range(30, 96)]:
            acc = rates(predict(cal, w, t), [c["label"] == "supported" for c in cal])["accuracy"]
            grid.append((acc, t, w))
    acc, t, w = max(grid)
    times = []
    for c in held:
        t0 = time.perf_counter()
        checker.weight, checker.threshold = w, t
        checker.check(c["answer"], c["docs"])
        times.append((time.perf_counter() - t0) * 1000)
    r_cal = rates(predict(cal, w, t), [c["label"] == "supported" for c in cal])
    pred = predict(held, w, t)
    gold = [c["label"] == "supported" for c in held]
    r = rates(pred, gold)
    misses = [(c, p) for c, p, g in zip(held, pred, gold) if p != g]
    fmt = lambda x: "–" if x is None else f"{x:.2f}"
    lines = [
        "# Grounding checker calibration",
        "",
        f"`python eval/grounding_calibration.py` on {len(claims)} claims of `grounding/claims.jsonl` "
        f"({sum(c['label'] == 'supported' for c in claims)} supported, {sum(c['label'] != 'supported' for c in claims)} unsupported): "
        f"{len(cal)} to calibrate, {len(held)} held out (split alternately within each kind).",
        "",
        f"Chosen on the calibration half: WEIGHT = {w}, THRESHOLD = {t} (calibration accuracy {acc:.3f}).",
        "",
        "| half | class | precision | recall | k (tp / predicted / gold) |",
        "| --- | --- | ---: | ---: | --- |",
    ]
    for name, rr in (("calibration", r_cal), ("**held-out**", r)):
        for cls in ("unsupported", "supported"):
            p, rc, tp, npred, ngold = rr[cls]
            lines.append(f"| {name} | {cls} | {fmt(p)} | {fmt(rc)} | {tp} / {npred} / {ngold} |")
    lines += ["", f"Held-out accuracy {r['accuracy']:.3f}. Per claim (held-out, warm cache excluded: every claim's passages "
              f"embedded anew the first time): median {statistics.median(times):.1f} ms, max {max(times):.1f} ms.", "",
              "Held-out misses:", ""]
    lines += [f"- `{c['id']}` ({c['kind']}, gold {c['label']}, checked {'supported' if p else 'unsupported'}): {c['claim']}" for c, p in misses] or ["- none"]
    by_kind: dict[str, list[bool]] = {}
    for c, p, g in zip(held, pred, gold):
        by_kind.setdefault(c["kind"], []).append(p == g)
    lines += ["", "Held-out accuracy by kind: " + ", ".join(f"{k} {sum(v)}/{len(v)}" for k, v in sorted(by_kind.items())), ""]
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
