"""Claim verdicts on hand-made section tables whose verdict is known."""

import pandas as pd
import pytest

from spikelib import claims, sections
from spikelib.store import results_root, write_table

_DEFAULTS = {"str": "ok", "int": 1, "float": 0.0, "bool": False}


@pytest.fixture(autouse=True)
def results_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("SPIKELIB_RESULTS", str(tmp_path))


def _write(profile, section, rows, table=None):
    """Rows completed to the section table's schema, written where the claims read them."""
    schema = sections.section(section).TABLES[table or section]
    full = [{column: row.get(column, _DEFAULTS[kind]) for column, kind in schema.columns.items()}
            for row in rows]
    write_table(schema.frame(pd.DataFrame(full)), results_root(profile), schema.name)


def _datasets(sae):
    return [dict(dataset=d, seed=s, test_mse=sae, mean_image_mse=0.067, pca_mse=0.015)
            for d in ("mnist", "fashion_mnist") for s in (0, 1)]


@pytest.mark.parametrize("profile, sae, status", [
    ("paper", 0.018, claims.PASS), ("paper", 0.030, claims.FAIL),
    ("quick", 0.030, claims.NO_VERDICT), ("ci", 0.018, claims.NO_VERDICT),
])
def test_c1_gets_a_verdict_only_where_the_profile_is_meant_to_show_it(profile, sae, status):
    _write(profile, "datasets", _datasets(sae))
    result = claims.check("C1", profile)
    assert result.status == status
    assert result.figures["mnist SAE"] == pytest.approx(sae)
    assert "PCA" in result.criterion and profile in result.budget


def test_c5_needs_a_fall_at_every_size():
    rows = [dict(dataset="mnist", n_hidden=h, seed=s, test_mse=v + 0.001 * s)
            for s in (0, 1) for h, v in ((8, 0.04), (16, 0.03), (32, 0.02))]
    _write("paper", "embedding_sizes", rows)
    assert claims.check("C5", "paper").status == claims.PASS
    rows.append(dict(dataset="mnist", n_hidden=64, seed=0, test_mse=0.05))
    _write("paper", "embedding_sizes", rows)
    assert claims.check("C5", "paper").status == claims.FAIL


def test_c4_requires_denoising_at_every_noisy_level():
    rows = [dict(dataset="mnist", noise=n, test_mse=s, noisy_input_mse=i)
            for n, s, i in ((0.0, 0.02, 0.0), (0.2, 0.03, 0.05), (0.4, 0.04, 0.1))]
    _write("paper", "noise", rows)
    assert claims.check("C4", "paper").status == claims.PASS
    rows[2]["test_mse"] = 0.2
    _write("paper", "noise", rows)
    assert claims.check("C4", "paper").status == claims.FAIL


def test_c3_fails_when_one_latency_does_not_reconstruct():
    rows = [dict(dataset="mnist", latency=l, seed=0, test_mse=v, mean_image_mse=0.067)
            for l, v in ((1, 0.012), (16, 0.036))]
    _write("paper", "latencies", rows)
    assert claims.check("C3", "paper").status == claims.FAIL
    rows[1]["test_mse"] = 0.03
    _write("paper", "latencies", rows)
    assert claims.check("C3", "paper").status == claims.PASS


def test_c2_ratio_and_spread():
    rows = [dict(dataset="mnist", n_hidden=8, seed=s, model=m, test_mse=v)
            for s, (sae, ann) in enumerate(((0.03, 0.03), (0.032, 0.029)))
            for m, v in (("sae", sae), ("ann", ann))]
    _write("paper", "comparison", rows)
    result = claims.check("C2", "paper")
    assert result.status == claims.PASS
    assert result.figures["mnist 8 SAE/ANN"] == pytest.approx(0.031 / 0.0295, rel=1e-4)


def test_c6_and_c7():
    _write("paper", "classification", [dict(dataset="mnist", features=f, accuracy=a, seed=0)
                                       for f, a in (("sae_embedding", 0.9), ("raw_pixels", 0.92))])
    assert claims.check("C6", "paper").status == claims.PASS
    rows = [dict(dataset="mnist", latency=l, layer="output", seed=0, negative_share=0.6,
                 negative_mass=0.6, pulse_positive_share=0.9, test_mse=0.02,
                 test_mse_nonnegative=m, negative_before_spike_share=0.8)
            for l, m in ((1, 0.025), (16, 0.06))]
    _write("paper", "inhibition", rows)
    assert claims.check("C7", "paper").status == claims.PASS
    rows[1]["test_mse_nonnegative"] = 0.021
    _write("paper", "inhibition", rows)
    assert claims.check("C7", "paper").status == claims.FAIL


def test_c7_says_whether_the_ablation_gap_rises_at_every_latency_step():
    """The verdict compares the lowest and highest latency; with more levels its
    figures also say whether the gap grows at every step, or where it peaks."""
    rows = [dict(dataset="mnist", latency=l, layer="output", seed=0, negative_share=0.6,
                 negative_mass=0.6, pulse_positive_share=0.9, test_mse=0.02,
                 test_mse_nonnegative=m, negative_before_spike_share=0.8)
            for l, m in ((1, 0.025), (4, 0.1), (16, 0.06))]
    _write("paper", "inhibition", rows)
    result = claims.check("C7", "paper")
    assert result.status == claims.PASS
    assert result.figures["mnist ablation/full rising at every latency step"] == (
        "no (largest at latency 4)")
    rows[1]["test_mse_nonnegative"] = 0.04
    _write("paper", "inhibition", rows)
    assert claims.check("C7", "paper").figures[
        "mnist ablation/full rising at every latency step"] == "yes"


def test_a_missing_table_names_the_command():
    with pytest.raises(FileNotFoundError, match="make runs PROFILE=quick"):
        claims.check("C3", "quick")


def test_a_table_with_a_missing_column_is_refused():
    frame = pd.DataFrame(_datasets(0.02)).drop(columns=["pca_mse"])
    write_table(frame, results_root("paper"), "datasets")
    with pytest.raises(ValueError, match="pca_mse"):
        claims.check("C1", "paper")


def test_every_claim_names_a_section_with_its_table():
    for claim_id, (_, section) in claims.CLAIMS.items():
        assert section in sections.SECTIONS
        assert section in sections.section(section).TABLES


def test_the_verify_profile_checks_only_the_claims_of_its_sections():
    _write("verify", "datasets", _datasets(0.018))
    _write("verify", "classification", [dict(dataset="mnist", features="sae_embedding",
                                             accuracy=0.2)])
    checks = {item.id: item.status for item in claims.check_all("verify")}
    assert checks == {"C1": claims.PASS, "C6": claims.FAIL}
    assert "C6 FAIL" in claims.report(claims.check_all("verify"))


def test_the_verify_plan_trains_only_the_readme_row():
    plan = sections.plan("verify")
    rows = {(run.config.data.noise, run.config.latency, run.config.network.n_hidden)
            for run in plan}
    assert rows == {(0.0, 1.0, 32)}
    assert {run.kind for run in plan} == {"sae", "ann"}
    assert not any(run.config.network.nonnegative_weights for run in plan)


def test_the_command_without_tables_is_one_line_without_tensorflow_start_up(tmp_path):
    import os
    import subprocess
    import sys
    result = subprocess.run([sys.executable, "-m", "spikelib.claims", "--profile", "book"],
                            capture_output=True, text=True,
                            env={**os.environ, "SPIKELIB_RESULTS": str(tmp_path),
                                 "TF_CPP_MIN_LOG_LEVEL": "0"})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "is missing: its section has not been computed" in lines[0], \
        result.stderr
