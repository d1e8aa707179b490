"""One way to build a worker pool: the engine, run_jobs and the service run a Task alike; no one else builds a pool."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from imgtwin.config import ProcessingConfig
from imgtwin.hashing.dct import DCTHasher
from imgtwin.processing.jobs import run_jobs
from imgtwin.processing.parallel import ParallelProcessingEngine
from imgtwin.processing.service import PoolService
from imgtwin.processing.task import ScanTask
from imgtwin.records import ErrorReason, FileResult
from tests.helpers import REPO, MisbehavingLoader, synthetic_photo
from tests.processing.test_workers import run_pool

SOURCES = REPO / "src" / "imgtwin"
FACTORY = SOURCES / "processing" / "pools.py"


def files(root: Path, *extra: str) -> list[str]:
    for i in range(3):
        synthetic_photo(i, (96, 72)).save(root / f"p{i}.jpg", quality=90)
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(100))
    for name in extra:
        synthetic_photo(9, (96, 72)).save(root / name, quality=90)
    return sorted(str(p) for p in root.iterdir())


def through_service(task: ScanTask, items: list[str], config: ProcessingConfig) -> list[FileResult]:
    service: PoolService[str, FileResult] = PoolService(task, config)
    try:
        futures = [service.submit(item) for item in items]
        return [future.result(timeout=60) for future in futures]
    finally:
        service.close()


def by_path(results: list[FileResult]) -> dict[str, FileResult]:
    """Results by file (``duration_s``, the one field two runs differ in, is left out of equality)."""
    return {r.path: r for r in results}


@pytest.mark.slow  # three pools of worker processes, each waiting out a hung file's limit
def test_engine_run_jobs_and_service_run_a_task_alike_with_the_configs_limits(tmp_path: Path) -> None:
    paths = files(tmp_path, "crash.jpg", "hang.jpg")
    loader, hasher = MisbehavingLoader(512), DCTHasher()
    config = ProcessingConfig(max_concurrent_tasks=2, file_timeout=1.0)
    task = ScanTask(loader, hasher)
    engine = by_path(run_pool(ParallelProcessingEngine(loader, hasher).make_pool(config), paths))
    jobs = by_path(run_jobs(task, paths, config))
    service = by_path(through_service(task, paths, config))
    assert engine == jobs == service
    reasons = {Path(p).name: r.error.reason if r.error else None for p, r in engine.items()}
    # The config's time limit and crash isolation hold in each: the factory built all three pools.
    assert reasons == {"broken.jpg": ErrorReason.DECODE_ERROR, "crash.jpg": ErrorReason.WORKER_CRASHED,
                       "hang.jpg": ErrorReason.TIMEOUT, "p0.jpg": None, "p1.jpg": None, "p2.jpg": None}


def test_thread_executor_gives_the_process_pools_results(tmp_path: Path) -> None:
    paths = files(tmp_path)
    task = ScanTask(MisbehavingLoader(512), DCTHasher())
    threads = ProcessingConfig(max_concurrent_tasks=2, executor="thread")
    processes = ProcessingConfig(max_concurrent_tasks=1)
    engine = by_path(run_pool(ParallelProcessingEngine(task.loader, task.hasher).make_pool(threads), paths))
    assert engine == by_path(run_jobs(task, paths, threads)) == by_path(run_jobs(task, paths, processes))
    assert sum(r.error is None for r in engine.values()) == 3


def pool_classes() -> set[str]:
    """Every class in the package with a pool's ``run(work, results, cancel)``."""
    found = set()
    for path in SOURCES.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, ast.FunctionDef) and item.name == "run" and \
                            [a.arg for a in item.args.args] == ["self", "work", "results", "cancel"]:
                        found.add(node.name)
    return found


def test_no_module_but_the_factory_constructs_a_pool() -> None:
    pools = pool_classes()
    assert {"ProcessWorkerPool", "ThreadWorkerPool", "DaskWorkerPool"} <= pools
    built: list[str] = []
    for path in SOURCES.rglob("*.py"):
        if path == FACTORY:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
                if name in pools:
                    built.append(f"{path.relative_to(SOURCES)}:{node.lineno} {name}")
    assert built == []


def test_the_fork_server_imports_what_a_task_needs_and_never_the_main_script() -> None:
    from imgtwin.hashing.dct import DCTHasher
    from imgtwin.hashing.extractor import MatchFeatureExtractor
    from imgtwin.loading.pillow_loader import StandardImageLoader
    from imgtwin.loading.preview_loader import PreviewFirstLoader
    from imgtwin.matching.resolution import UpscaleTask
    from imgtwin.processing.pool_contract import preload_modules
    from imgtwin.processing.task import ScanTask

    scan = ScanTask(PreviewFirstLoader(StandardImageLoader()), DCTHasher(8), MatchFeatureExtractor())
    assert preload_modules(scan) == ["imgtwin.hashing.dct", "imgtwin.hashing.extractor",
                                     "imgtwin.loading.preview_loader", "imgtwin.processing.task"]
    assert preload_modules(UpscaleTask()) == ["imgtwin.matching.resolution"]

    class Local:  # a task defined in a script: its module is never imported ahead
        def run(self, item: int) -> int:
            return item

        def failed(self, item: int, error: object) -> int:
            return item

    Local.__module__ = "__main__"
    assert preload_modules(Local()) == []  # type: ignore[arg-type]
