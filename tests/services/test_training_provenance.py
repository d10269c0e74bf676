"""The trainer records the SHA-256 of every file a model was fitted on; training_provenance finds the models
trained on an evidence file, and says "unknown" (not "no") for models without a record.  Real files, real model
folders, the trainer's own install code."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from dfdesk.detectors.cards import Calibration
from dfdesk.detectors.weights import read_safetensors, sha256_file
from dfdesk.services import models, training_provenance
from trainer import ship_sbi
from trainer.install import TRAINING_FILES, install_trained, training_file_entries


def install_with_record(name: str, files: list[tuple[Path, str | None]]):
    source = models.find_model("meso4_df")
    return install_trained(read_safetensors(source.weights_path), source, name=name, threshold=0.5,
                           calibration=Calibration(), metrics={"val_video_auc": 0.9}, training_data="test clips",
                           training_files=training_file_entries(files))


def test_a_model_trained_on_the_evidence_is_named_and_one_without_a_record_is_unknown(clip_dir: Path):
    card = install_with_record("meso_trained", [(clip_dir / "face.mp4", "train"), (clip_dir / "vfr.mp4", "val"),
                                                (clip_dir, "train")])  # a folder of stills is skipped
    assert training_provenance.RECORD_FILE == TRAINING_FILES  # the trainer writes what the services read
    face, vfr, other = (sha256_file(clip_dir / n) for n in ("face.mp4", "vfr.mp4", "noface.mp4"))
    assert training_provenance.models_trained_on(face) == ["meso_trained"]
    assert training_provenance.models_trained_on(vfr.upper()) == ["meso_trained"]  # hex case does not matter
    assert training_provenance.models_trained_on(other) == []
    result = training_provenance.provenance(other)
    assert "meso4_df" in result.unknown and "meso_trained" not in result.unknown  # no record: unknown, not "no"
    record = json.loads((card.path / TRAINING_FILES).read_text(encoding="utf-8"))
    assert record["format"] == training_provenance.RECORD_FORMAT
    assert sorted((f["file"], f["split"]) for f in record["files"]) == [("face.mp4", "train"), ("vfr.mp4", "val")]


def test_a_changed_record_is_read_again_and_a_broken_one_counts_as_unknown(clip_dir: Path):
    card = install_with_record("meso_trained", [(clip_dir / "face.mp4", "train")])
    face, other = sha256_file(clip_dir / "face.mp4"), sha256_file(clip_dir / "noface.mp4")
    assert training_provenance.models_trained_on(face) == ["meso_trained"]
    record = card.path / TRAINING_FILES
    record.write_text(json.dumps({"format": 1, "files": [{"sha256": other, "split": "train", "file": "x"}]}))
    os.utime(record, ns=(record.stat().st_atime_ns, record.stat().st_mtime_ns + 10_000_000))
    assert training_provenance.models_trained_on(face) == []
    assert training_provenance.models_trained_on(other) == ["meso_trained"]
    record.write_text("{not json")
    os.utime(record, ns=(record.stat().st_atime_ns, record.stat().st_mtime_ns + 20_000_000))
    assert "meso_trained" in training_provenance.provenance(other).unknown


def test_the_trainer_lists_the_train_and_validation_files_not_the_held_out_test_files(clip_dir: Path):
    from trainer.cli import fitted_files
    from trainer.datasets.records import VideoRecord

    records = [VideoRecord(clip_dir / "face.mp4", "real", "folders", split="train"),
               VideoRecord(clip_dir / "vfr.mp4", "fake", "folders", split="val"),
               VideoRecord(clip_dir / "noface.mp4", "fake", "folders", split="test")]
    assert [(p.name, s) for p, s in fitted_files(records)] == [("face.mp4", "train"), ("vfr.mp4", "val")]


def test_ship_sbi_records_every_file_of_the_manifest_folder(tmp_path: Path, clip_dir: Path):
    root = tmp_path / "train"
    (root / "real").mkdir(parents=True)
    (root / "real" / "a.mp4").write_bytes((clip_dir / "face.mp4").read_bytes())
    (root / "MANIFEST.csv").write_text("file,sha256,identity\nreal/a.mp4,x,person\nreal/missing.mp4,y,other\n")
    out = tmp_path / "model"
    out.mkdir()
    ship_sbi.record_training_files({"config": {"data": {"root": str(root)}}}, out)
    record = json.loads((out / TRAINING_FILES).read_text(encoding="utf-8"))
    assert record["files"] == [{"sha256": sha256_file(clip_dir / "face.mp4"), "split": None, "file": "a.mp4"}]
    with pytest.raises(ship_sbi.ShipError, match="MANIFEST.csv does not exist"):
        ship_sbi.record_training_files({"config": {"data": {"root": str(tmp_path)}}}, out)
