"""The adaptive-concurrency controller, driven by a fake clock and a fake workload (no sleeps)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from imgtwin.processing.adaptive import AdaptiveConcurrency


class FakeWorkload:
    """Files/s as a function of the active worker count; time only moves when told."""

    def __init__(self, throughput: Callable[[int], float], load: float = 0.0) -> None:
        self.throughput = throughput
        self.now = 0.0
        self.load = load

    def controller(self, **kwargs: object) -> AdaptiveConcurrency:
        return AdaptiveConcurrency(clock=lambda: self.now, load_average=lambda: self.load, cores=2,
                                   interval=1.0, **kwargs)  # type: ignore[arg-type]

    def run(self, controller: AdaptiveConcurrency, windows: int) -> list[int]:
        counts = []
        for _ in range(windows):
            controller.record(round(self.throughput(controller.active) * 1.0))
            self.now += 1.0
            controller.update()
            counts.append(controller.active)
        return counts


def test_climbs_while_throughput_grows_then_settles_at_the_knee() -> None:
    workload = FakeWorkload(lambda n: 10 * min(n, 3))  # 3 workers saturate the disk
    controller = workload.controller(minimum=1, maximum=8, initial=1)
    counts = workload.run(controller, 12)
    assert counts[:3] == [2, 3, 4]  # up while each step pays
    settled = counts[4:]
    assert max(set(settled), key=settled.count) == 3 and set(settled) <= {3, 4}  # the 4th bought nothing
    assert [c.why for c in controller.changes[:3]] == ["exploring", "throughput rose", "throughput rose"]


def test_moves_down_when_throughput_drops_and_up_again_when_it_grows() -> None:
    capacity = {"knee": 4}
    workload = FakeWorkload(lambda n: 10 * min(n, capacity["knee"]) - 6 * max(0, n - capacity["knee"]))
    controller = workload.controller(minimum=1, maximum=8, initial=4, probe_after=3)
    workload.run(controller, 10)
    assert controller.active == 4
    capacity["knee"] = 2  # e.g. the files moved to a slower disk: more workers now contend
    counts = workload.run(controller, 12)
    assert counts[0] == 3  # the drop is answered at once: one step down in the next window
    settled = counts[4:]
    assert max(set(settled), key=settled.count) == 2 and set(settled) <= {2, 3}  # 2, with an occasional probe
    capacity["knee"] = 6  # lighter work: probing finds the headroom and the climb goes on
    counts = workload.run(controller, 25)
    settled = counts[10:]
    assert max(set(settled), key=settled.count) == 6 and set(settled) <= {6, 7}


def test_bounds_and_load_are_respected() -> None:
    workload = FakeWorkload(lambda n: 10.0 * n)  # scales forever
    controller = workload.controller(minimum=1, maximum=4, initial=1)
    assert max(workload.run(controller, 20)) == 4  # never above the maximum (2 x cores by default)
    busy = FakeWorkload(lambda n: 10.0 * n, load=4.0)  # 2.0 per core: saturated
    controller = busy.controller(minimum=1, maximum=4, initial=2)
    assert busy.run(controller, 10) and controller.active == 2 and not any(
        c.after > c.before for c in controller.changes)
    assert AdaptiveConcurrency(cores=2).maximum == 4 and AdaptiveConcurrency(cores=2, initial=99).active == 4


def test_no_decision_before_a_window_has_passed() -> None:
    workload = FakeWorkload(lambda n: 10.0 * n)
    controller = workload.controller(initial=1)
    controller.record(50)
    workload.now += 0.5
    assert controller.update() is None and controller.active == 1


@pytest.mark.slow
def test_scan_with_workers_auto_hashes_everything_and_logs_changes(photo_dir, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """End to end: the process pool fed through a fast-deciding controller gives the same results."""
    from click.testing import CliRunner

    import imgtwin.processing.parallel as engine_module
    from imgtwin.cli import main

    made: list[AdaptiveConcurrency] = []

    class Quick(AdaptiveConcurrency):
        def __init__(self, **kwargs: object) -> None:
            super().__init__(interval=0.05, **kwargs)  # type: ignore[arg-type]
            made.append(self)

    import imgtwin.processing.adaptive as adaptive_module

    original = adaptive_module.AdaptiveConcurrency
    adaptive_module.AdaptiveConcurrency = Quick  # type: ignore[misc]
    try:
        log = tmp_path / "run.log"
        result = CliRunner().invoke(main, ["scan", str(photo_dir), "--db", str(tmp_path / "i.db"), "--no-progress",
                                           "--workers", "auto", "--log", str(log)])
    finally:
        adaptive_module.AdaptiveConcurrency = original  # type: ignore[misc]
    assert engine_module is not None
    assert result.exit_code == 0, result.output
    assert "Done: 7 hashed, 0 errors (1 byte copy of another file, not decoded), 1 skipped" in result.output
    assert made and 1 <= made[0].active <= made[0].maximum
    logged = log.read_text()
    for change in made[0].changes:
        assert str(change) in logged


def test_workers_auto_needs_the_process_executor(photo_dir, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from imgtwin.cli import main

    result = CliRunner().invoke(main, ["scan", str(photo_dir), "--db", str(tmp_path / "i.db"),
                                       "--workers", "auto", "--executor", "thread"])
    assert result.exit_code == 2 and "--workers auto needs --executor process" in result.output
