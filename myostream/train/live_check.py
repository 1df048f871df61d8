"""Does the live default work? The issue-6 criterion, measured through the real Pipeline.

The default ``myostream live`` setup: the built-in simulated armband (its device profile:
seed, 50 Hz hum, cycle schedule), the checkpoint's own preprocessing (filter, per-user
normalisation, live hop), in real time. Criterion: the true gesture ranks
first for at least 90 % of the hops whose window ends one second or more after the
gesture's onset. Two pipelines run side by side on identical sources: one with the live
window's score smoothing (0.5, the app default) and one without (the model alone).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from myostream.errors import MyostreamError

THRESHOLD = 0.90
APP_SMOOTHING = 0.5


def _onsets(labels: np.ndarray) -> np.ndarray:
    """Per sample, the index of the first sample of its labelled run."""
    change = np.concatenate(([True], labels[1:] != labels[:-1]))
    return np.maximum.accumulate(np.where(change, np.arange(len(labels)), 0))


def measure_live(
    checkpoint: str | Path,
    seconds: float = 81.0,
    device: str = "cpu",
    settle_s: float = 1.0,
    smoothings: tuple[float, ...] = (APP_SMOOTHING, 0.0),
    progress: bool = True,
) -> dict[str, Any]:
    """Run the default live setup for ``seconds`` and score every hop (see the module docstring)."""
    import torch

    from myostream.runtime import load_model, make_pipeline
    from myostream.sources import source_from_profile
    from myostream.stream.devices import load_profile
    from myostream.stream.simulated import SimulatedArmband

    if seconds < 2 * settle_s:
        raise MyostreamError(
            f"Measure for at least {2 * settle_s:g} s; {seconds:g} s leaves no hop after the first second."
        )
    torch.set_num_threads(1)  # as the live window does: one intra-op thread per process
    profile = load_profile("simulated")
    collected: dict[float, list] = {s: [] for s in smoothings}
    models = [load_model(checkpoint, device=device) for _ in smoothings]  # one per pipeline thread
    pipelines = []
    for s, model in zip(smoothings, models):
        pipelines.append(
            make_pipeline(
                source_from_profile(profile),
                model,
                smoothing=s,
                device=device,
                queue_size=100_000,
                on_ranking=collected[s].append,
            )
        )
    progress = progress and sys.stdout.isatty()
    for p in pipelines:
        p.start()
    try:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if progress:
                print(f"\r  live check: {end - time.monotonic():5.1f} s left", end="", flush=True)
            if any(p.error for p in pipelines):
                break
            time.sleep(0.5)
    finally:
        for p in pipelines:
            p.stop()
        if progress:
            print()
    for p in pipelines:
        if p.error is not None:
            raise MyostreamError(f"The live pipeline stopped with an error: {p.error}")

    # The simulator is a pure function of the sample count: the same source offline gives the truth.
    reference = source_from_profile(profile, realtime=False)
    if not isinstance(reference, SimulatedArmband):
        raise MyostreamError("The live check measures on the simulated armband profile, which is not one here.")
    info = reference.info
    n_total = max(r.counter for rs in collected.values() for r in rs) + 1
    generated = reference.generate(n_total / info.rate)
    if generated.labels is None:
        raise MyostreamError("The simulated armband generated a chunk without labels; it always labels its own.")
    labels = generated.labels.astype(np.int64)
    onsets = _onsets(labels)
    settle = int(round(settle_s * info.rate))
    model_cfg = models[0].config
    results = {}
    for s, p in zip(smoothings, pipelines):
        results[f"smoothing {s:g}"] = _score(collected[s], labels, onsets, settle, info.label_names, p.stats())
    default = results[f"smoothing {smoothings[0]:g}"]
    return {
        "checkpoint": str(checkpoint),
        "model": model_cfg.name,
        "source": "simulated (device profile defaults: "
        + ", ".join(f"{k}={v}" for k, v in profile.options.get("simulated", {}).items())
        + ", schedule cycle, real time)",
        "filter": None
        if pipelines[0].filter_spec is None
        else {k: v for k, v in pipelines[0].filter_spec.__dict__.items()},
        "window_ms": float(model_cfg.window_ms),
        "hop_ms": pipelines[0].hop_ms,
        "seconds": seconds,
        "settle_s": settle_s,
        "threshold": THRESHOLD,
        "criterion": {
            "what": f"top-1 = true gesture, hops >= {settle_s:g} s after each gesture's onset, app smoothing {smoothings[0]:g}",
            "value": default["gestures"]["fraction"],
            "passed": default["gestures"]["fraction"] >= THRESHOLD,
        },
        "runs": results,
    }


def _score(
    rankings: list, labels: np.ndarray, onsets: np.ndarray, settle: int, names: tuple[str, ...], stats: Any
) -> dict[str, Any]:
    per_class: dict[str, list[int]] = {n: [0, 0] for n in names}
    all_hits = 0
    for r in rankings:
        c = r.counter
        truth = names[labels[c]]
        hit = r.top[0].class_id == truth
        all_hits += hit
        if c - onsets[c] >= settle:
            per_class[truth][0] += hit
            per_class[truth][1] += 1

    def frac(classes: list[str]) -> dict[str, Any]:
        hits = sum(per_class[c][0] for c in classes)
        hops = sum(per_class[c][1] for c in classes)
        return {"hops": hops, "correct": hits, "fraction": hits / hops if hops else float("nan")}

    gestures = [n for n in names if n != "rest"]
    return {
        "gestures": frac(gestures),
        "rest": frac(["rest"]),
        "all_settled": frac(list(names)),
        "every_hop": {"hops": len(rankings), "correct": all_hits, "fraction": all_hits / max(1, len(rankings))},
        "per_class": {n: frac([n]) for n in names},
        "pipeline": {
            "lost": stats.lost,
            "skipped": stats.skipped,
            "dropped": stats.dropped,
            "latency_p50_ms": round(stats.latency_p50_ms, 2),
            "latency_p99_ms": round(stats.latency_p99_ms, 2),
        },
    }


def live_markdown(result: dict[str, Any], command: str) -> str:
    c = result["criterion"]
    lines = [
        "# Live default: does the true gesture rank first?",
        "",
        f"Generated by `{command}`.",
        "",
        f"- checkpoint: `{result['checkpoint']}` (model {result['model']})",
        f"- source: {result['source']}",
        f"- filter: {result['filter']}",
        f"- windows of {result['window_ms']:g} ms every {result['hop_ms']:g} ms, {result['seconds']:g} s of live signal",
        f"- criterion: {c['what']}: **{100 * c['value']:.1f} %** "
        f"({'meets' if c['passed'] else 'misses'} the {100 * result['threshold']:.0f} % target)",
        "",
        "| run | gestures (≥ 1 s after onset) | rest (≥ 1 s after onset) | all settled hops | every hop | lost | skipped | latency p50 / p99 ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in result["runs"].items():
        lines.append(
            f"| {name} | {100 * r['gestures']['fraction']:.1f} % of {r['gestures']['hops']} | "
            f"{100 * r['rest']['fraction']:.1f} % of {r['rest']['hops']} | {100 * r['all_settled']['fraction']:.1f} % | "
            f"{100 * r['every_hop']['fraction']:.1f} % of {r['every_hop']['hops']} | {r['pipeline']['lost']} | "
            f"{r['pipeline']['skipped']} | {r['pipeline']['latency_p50_ms']:.1f} / {r['pipeline']['latency_p99_ms']:.1f} |"
        )
    first = next(iter(result["runs"].values()))
    lines += [
        "",
        f"Per class ({next(iter(result['runs']))}, hops ≥ 1 s after onset):",
        "",
        "| class | top-1 | hops |",
        "|---|---|---|",
    ]
    for name, r in first["per_class"].items():
        lines.append(f"| {name} | {100 * r['fraction']:.1f} % | {r['hops']} |")
    lines += ["", '"every hop" includes the transitions (the first second after each change of gesture).', ""]
    return "\n".join(lines)
