"""Batch triage of real clips from ../shared/data on a local Ray cluster of two CPUs, with the default ensemble:
the same verdicts and fused P(fake) as the sequential analyses, and a hostile file beside them listed, not fatal.

PyTorch's intra-op thread count changes the last digits of convolutions, and on real footage that moves MTCNN's
boxes and P(fake) by up to about 1e-3 (FF++ 004: 0.39337 with 1 thread, 0.39258 with 2).  Ray runs each task with
one thread, so the sequential reference runs with one thread too; then the results are equal to 1e-6."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from dfdesk.core.steps import run_to_end
from dfdesk.services.analysis import AnalysisRequest, run_analysis
from dfdesk.services.batch import ANALYSED, REFUSED, BatchOptions, VideoSettled, run_batch
from dfdesk.services.ingest import ingest_video
from dfdesk.services.results import load_analysis
from dfdesk.store.database import Database
from tests.fixtures import hostile
from tests.services.batch_support import healthy, local_ray_cluster

pytestmark = pytest.mark.real
CLIPS = ("videos/ffpp/004.mp4", "videos/real/obama_speaking.mp4", "videos/val/lrnet_dfo_real.mp4")  # the smallest


def _analyse(db: Database, clip: Path) -> int:
    intake = ingest_video(db, "Sequential", clip, "alice")
    return run_to_end(run_analysis(db, intake.evidence_id, AnalysisRequest(), "alice"))


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory):
    with local_ray_cluster(tmp_path_factory) as address:
        yield address


def test_real_clips_on_ray_give_the_sequential_results(ray_cluster: str, shared_data: Path, db: Database,
                                                       tmp_path: Path) -> None:
    folder = tmp_path / "shared-storage"
    folder.mkdir()
    for clip in CLIPS:  # links, not copies: the material stays in ../shared/data
        (folder / Path(clip).name).symlink_to(shared_data / clip)
    hostile.random_bytes(folder)
    settled: dict[str, VideoSettled] = {}
    summary = run_to_end(run_batch(db, BatchOptions("Real", (str(folder),), ray="auto"), "alice"),
                         lambda e: settled.update({Path(e.path).name: e}) if isinstance(e, VideoSettled) else None)
    assert summary.analysed == len(CLIPS) and settled["random.mp4"].status == REFUSED
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each Ray task runs
    try:
        sequential = {Path(clip).name: _analyse(db, shared_data / clip) for clip in CLIPS}
    finally:
        torch.set_num_threads(threads)
    for clip in CLIPS:
        name = Path(clip).name
        with db.unit_of_work() as session:
            one, ray = load_analysis(session, sequential[name]), load_analysis(session, settled[name].analysis_id)
        assert settled[name].status == ANALYSED and ray.settings["worker"]["mode"] == "ray"
        assert ray.verdict.label == one.verdict.label, name
        if one.verdict.fake_probability is None:
            assert ray.verdict.fake_probability is None
        else:
            assert ray.verdict.fake_probability == pytest.approx(one.verdict.fake_probability, abs=1e-6), name
    healthy(db.path)
