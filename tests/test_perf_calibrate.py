"""perf calibrate extrapolates a suite's time over every method, seed and teacher-noise level."""
import json


def test_the_estimate_counts_noise_levels_and_reports_the_runs_thread_count(tmp_path):
    from benchmark.perf.measure import perf_calibrate

    suite = tmp_path / "tiny-noise.yaml"
    suite.write_text("name: tiny-noise\nversion: 1\ntasks: [digits_ci]\nmethods: [margin, random]\nseeds: [0, 1]\n"
                     "rounds: 1\nteacher_noise: {kind: flip_uniform, rates: [0.0, 0.2, 0.4]}\n")
    out = tmp_path / "calib.json"
    assert perf_calibrate(str(suite), ["margin"], [0], None, out, device="cpu") == 0
    r = json.loads(out.read_text())
    assert r["noise_levels"] == 3 and r["assumed_methods"] == 2 and r["suite_seeds"] == 2 and r["threads"] == 1
    assert r["measured"]["runs"] == 3
    expected = r["setup_seconds_per_seed"] * 2 + r["mean_run_seconds"] * 2 * 2 * 3
    assert abs(r["estimated_suite_minutes_wall_as_measured"] * 60 - expected) <= 0.1 * 60 + 1
