"""The claim check of the results report: every comparison MyoSem does not win is listed."""

from myostream_reports.results import claim_check


def _metrics(r1: float, r3: float, mrr: float) -> dict:
    return {"emg_to_text": {"R@1": r1, "R@3": r3, "MRR": mrr}, "text_to_emg": {"R@1": r1, "R@3": r3, "MRR": mrr}}


def test_claim_check_lists_ties_and_losses_with_enough_decimals_to_tell_them_apart():
    variants = [("tcn", "TCN", "baseline"), ("myosem", "MyoSem", "ours")]
    pooled = {("random", "myosem"): _metrics(0.9, 0.98761, 0.95), ("random", "tcn"): _metrics(0.8, 0.98764, 0.95)}
    misses, holds = claim_check(["random"], variants, pooled)
    assert not holds
    assert "random: TCN beats MyoSem on EMG→text R@3 (98.764 vs 98.761)" in misses
    assert "random: TCN ties MyoSem on text→EMG MRR (95.00 vs 95.00)" in misses
    assert not any("R@1" in m for m in misses) and len(misses) == 4

    pooled[("random", "tcn")] = _metrics(0.8, 0.9, 0.9)
    assert claim_check(["random"], variants, pooled) == ([], True)
