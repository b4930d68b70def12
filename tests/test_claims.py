"""Claim checks on hand-made tables whose verdict is known."""

import pandas as pd
import pytest

from spikelib import claims
from spikelib.store import write_table


def _datasets(sae):
    return [dict(dataset=d, method=m, test_mse=v) for d in ("mnist", "fashion_mnist")
            for m, v in (("sae", sae), ("mean_image", 0.067), ("pca", 0.015))]


@pytest.mark.parametrize("profile, sae, status", [
    ("paper", 0.018, claims.PASS), ("paper", 0.030, claims.FAIL),
    ("quick", 0.030, claims.NOT_SHOWN), ("ci", 0.030, claims.NOT_SHOWN),
    ("ci", 0.018, claims.PASS),
])
def test_c1_pass_fail_and_not_shown(tmp_path, profile, sae, status):
    root = tmp_path / profile
    write_table(_datasets(sae), root, "datasets")
    result = claims.check("C1", root)
    assert result.status == status
    assert result.figures["mnist sae"] == pytest.approx(sae)


def test_c5_needs_a_fall_at_every_size(tmp_path):
    root = tmp_path / "paper"
    rows = [dict(dataset="mnist", n_hidden=h, seed=s, method="sae", test_mse=v + 0.001 * s)
            for s in (0, 1) for h, v in ((8, 0.04), (16, 0.03), (32, 0.02))]
    write_table(rows, root, "embedding_sizes")
    assert claims.check("C5", root).status == claims.PASS
    rows.append(dict(dataset="mnist", n_hidden=64, seed=0, method="sae", test_mse=0.05))
    write_table(rows, root, "embedding_sizes")
    assert claims.check("C5", root).status == claims.FAIL


def test_c4_requires_denoising_at_every_noisy_level(tmp_path):
    root = tmp_path / "paper"
    rows = [dict(dataset="mnist", noise=n, test_mse=s, noisy_input_mse=i)
            for n, s, i in ((0.0, 0.02, 0.0), (0.2, 0.03, 0.05), (0.4, 0.04, 0.1))]
    write_table(rows, root, "noise")
    assert claims.check("C4", root).status == claims.PASS
    rows[2]["test_mse"] = 0.2
    write_table(rows, root, "noise")
    assert claims.check("C4", root).status == claims.FAIL


def test_c2_ratio_and_spread(tmp_path):
    root = tmp_path / "paper"
    rows = [dict(dataset="mnist", n_hidden=8, seed=s, model=m, test_mse=v)
            for s, (sae, ann) in enumerate(((0.03, 0.03), (0.032, 0.029)))
            for m, v in (("sae", sae), ("ann", ann))]
    write_table(rows, root, "comparison")
    result = claims.check("C2", root)
    assert result.status == claims.PASS
    assert result.figures["mnist 8 sae/ann"] == pytest.approx(0.031 / 0.0295, rel=1e-4)


def test_c6_and_c7(tmp_path):
    root = tmp_path / "paper"
    write_table([dict(dataset="mnist", features=f, accuracy=a, seed=0)
                 for f, a in (("sae_embedding", 0.9), ("raw_pixels", 0.92))], root,
                "classification")
    assert claims.check("C6", root).status == claims.PASS
    rows = [dict(dataset="mnist", latency=l, layer="output", negative_share=0.6,
                 negative_mass=0.6, pulse_positive_share=0.9, test_mse=0.02,
                 test_mse_nonnegative=m, negative_before_spike_share=0.8)
            for l, m in ((1, 0.025), (16, 0.06))]
    write_table(pd.DataFrame(rows), root, "inhibition")
    assert claims.check("C7", root).status == claims.PASS
    rows[1]["test_mse_nonnegative"] = 0.021
    write_table(pd.DataFrame(rows), root, "inhibition")
    assert claims.check("C7", root).status == claims.FAIL


def test_missing_table_names_the_command(tmp_path):
    with pytest.raises(FileNotFoundError, match="make reproduce PROFILE=quick"):
        claims.check("C3", tmp_path / "quick")


def test_fresh_ci_results_fail_no_claim_the_budget_can_show():
    """After `make book PROFILE=ci` (run by `make test`): every claim passes or is not shown."""
    from spikelib.store import results_root
    root = results_root("ci")
    if not (root / "tables").exists():
        pytest.skip("no ci results: run `make book PROFILE=ci` first")
    checks = claims.check_all(root)
    assert [c.id for c in checks] == [f"C{i}" for i in range(1, 8)]
    failed = {c.id: c.figures for c in checks if c.status == claims.FAIL}
    assert not failed
