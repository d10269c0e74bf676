"""Data set adapters on small trees built in tmp_path."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from trainer.datasets import DatasetError, detect_dataset_kind, load_dataset


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def problems_of(report, kind: str) -> list[str]:
    return [p.path for p in report.problems if p.kind == kind]


@pytest.fixture
def ffpp(tmp_path: Path) -> Path:
    for vid in ("000", "001", "002", "003"):
        touch(tmp_path / f"original_sequences/youtube/c23/videos/{vid}.mp4")
    for name in ("000_001", "001_000", "002_003", "004_005", "bogus"):
        touch(tmp_path / f"manipulated_sequences/Deepfakes/c23/videos/{name}.mp4")
    splits = {"train": [["000", "001"]], "val": [], "test": [["002", "003"]]}
    for split, pairs in splits.items():
        (tmp_path / f"{split}.json").write_text(json.dumps(pairs))
    return tmp_path


def test_ffpp_records_labels_identities_and_official_splits(ffpp: Path) -> None:
    report = load_dataset("ffpp", ffpp)
    by_name = {r.path.stem: r for r in report.records}
    fake = by_name["002_003"]
    assert (fake.label, fake.target, fake.method, fake.identities) == ("fake", 1, "Deepfakes", ("002", "003"))
    assert fake.original == ffpp / "original_sequences/youtube/c23/videos/002.mp4"
    assert (by_name["000"].label, by_name["000"].target, by_name["000"].identities) == ("real", 0, ("000",))
    assert {n: by_name[n].split for n in ("000", "001", "000_001", "001_000")} == dict.fromkeys(
        ("000", "001", "000_001", "001_000"), "train")
    assert by_name["002_003"].split == "test" and by_name["004_005"].split is None
    assert report.counts_by_class() == {"real": 4, "fake": 4}
    assert report.counts_by_split() == {"train": {"real": 2, "fake": 2}, "test": {"real": 2, "fake": 1},
                                        "unassigned": {"real": 0, "fake": 1}}


def test_ffpp_reports_problems_instead_of_crashing(ffpp: Path) -> None:
    report = load_dataset("ffpp", ffpp)
    assert any(p.endswith("bogus.mp4") for p in problems_of(report, "unmatched"))
    assert any(p.endswith("004_005.mp4") for p in problems_of(report, "missing"))  # its original is absent


def test_ffpp_rejects_an_absent_compression_and_contradictory_splits(ffpp: Path) -> None:
    with pytest.raises(DatasetError, match="c40"):
        load_dataset("ffpp", ffpp, compression="c40")
    (ffpp / "val.json").write_text(json.dumps([["001", "009"]]))
    with pytest.raises(DatasetError, match="001"):
        load_dataset("ffpp", ffpp)


@pytest.fixture
def celebdf(tmp_path: Path) -> Path:
    for rel in ("Celeb-real/id0_0000.mp4", "Celeb-real/id1_0003.mp4", "Celeb-synthesis/id0_id16_0000.mp4",
                "YouTube-real/00001.mp4"):
        touch(tmp_path / rel)
    lines = ["1 Celeb-real/id0_0000.mp4", "0 Celeb-synthesis/id0_id16_0000.mp4", "2 Celeb-real/id1_0003.mp4",
             "1 Celeb-real/id9_0001.mp4", "1 Celeb-synthesis/id0_id16_0000.mp4"]
    (tmp_path / "List_of_testing_videos.txt").write_text("\n".join(lines))
    return tmp_path


def test_celebdf_inverts_the_list_polarity(celebdf: Path) -> None:
    report = load_dataset("celebdf", celebdf)
    by_name = {r.path.name: r for r in report.records}
    assert (by_name["id0_0000.mp4"].label, by_name["id0_0000.mp4"].target) == ("real", 0)
    swap = by_name["id0_id16_0000.mp4"]
    assert (swap.label, swap.target, swap.identities, swap.split) == ("fake", 1, ("id0", "id16"), "test")
    assert swap.original == celebdf / "Celeb-real/id0_0000.mp4"
    assert by_name["00001.mp4"].identities == () and by_name["00001.mp4"].split is None
    assert by_name["id1_0003.mp4"].split is None  # its list line was bad, so it is not a test video


def test_celebdf_reports_bad_lines_missing_files_and_conflicts(celebdf: Path) -> None:
    report = load_dataset("celebdf", celebdf)
    assert {p.kind for p in report.problems} == {"bad_line", "missing", "conflict", "duplicate"}
    assert any("id9_0001" in p for p in problems_of(report, "missing"))


def write_dfdc_part(folder: Path, entries: dict) -> None:
    folder.mkdir(parents=True)
    (folder / "metadata.json").write_text(json.dumps(entries))
    for name in entries:
        touch(folder / name)


def test_dfdc_reads_every_part(tmp_path: Path) -> None:
    write_dfdc_part(tmp_path / "dfdc_train_part_0", {
        "a.mp4": {"label": "REAL", "split": "train", "original": None},
        "b.mp4": {"label": "FAKE", "split": "train", "original": "a.mp4"},
        "c.mp4": {"label": "MAYBE", "split": "train"}})
    write_dfdc_part(tmp_path / "dfdc_train_part_1", {"d.mp4": {"label": "fake", "original": "e.mp4"}})
    report = load_dataset("dfdc", tmp_path)
    by_name = {r.path.name: r for r in report.records}
    assert sorted(by_name) == ["a.mp4", "b.mp4", "d.mp4"]
    assert by_name["b.mp4"].original == tmp_path / "dfdc_train_part_0/a.mp4"
    assert (by_name["b.mp4"].target, by_name["a.mp4"].target, by_name["a.mp4"].split) == (1, 0, "train")
    assert any(p.endswith("c.mp4") for p in problems_of(report, "unknown_label"))


def test_deepfakebench_json_with_and_without_compression_level(tmp_path: Path) -> None:
    def entry(label: str, folder: str) -> dict:
        return {"label": label, "frames": [f"{folder}/000.png", f"{folder}/001.png"]}

    data = {"FaceForensics++": {
        "FF-real": {"train": {"c23": {"000": entry("FF-real", "ff/real/000")}},
                    "test": {"c23": {"000": entry("FF-real", "ff/real/000")}}},
        "FF-DF": {"test": {"c23": {"000_001": entry("FF-DF", "ff/df/000_001")}}},
        "Odd": {"train": {"c23": {"009": entry("Odd", "ff/odd/009")}}}}}
    (tmp_path / "FF-DF.json").write_text(json.dumps(data))
    for folder in ("ff/real/000", "ff/df/000_001", "ff/odd/009"):
        touch(tmp_path / folder / "000.png")
    report = load_dataset("deepfakebench", tmp_path / "FF-DF.json")
    by_name = {r.path.name: r for r in report.records}
    assert sorted(by_name) == ["000", "000_001"]
    assert (by_name["000"].label, by_name["000"].split) == ("real", "train")
    fake = by_name["000_001"]
    assert (fake.label, fake.method, fake.identities, fake.split) == ("fake", "FF-DF", ("000", "001"), "test")
    assert {p.kind for p in report.problems} == {"unknown_label", "conflict"}
    mapped = load_dataset("deepfakebench", tmp_path / "FF-DF.json", label_map={"Odd": 1})
    assert {r.path.name: r.label for r in mapped.records}["009"] == "fake"


def test_folder_tree_is_searched_recursively(tmp_path: Path) -> None:
    touch(tmp_path / "real/a.mp4")
    touch(tmp_path / "real/nested/b.AVI")
    touch(tmp_path / "real/clip_frames/0001.png")
    touch(tmp_path / "real/notes.txt")
    touch(tmp_path / "Fake/Deepfakes/c.mp4")
    touch(tmp_path / "Fake/d.mov")
    report = load_dataset("folders", tmp_path)
    got = {r.path.relative_to(tmp_path).as_posix(): (r.label, r.method, r.is_frame_folder) for r in report.records}
    assert got == {"real/a.mp4": ("real", "", False), "real/nested/b.AVI": ("real", "", False),
                   "real/clip_frames": ("real", "", True), "Fake/Deepfakes/c.mp4": ("fake", "Deepfakes", False),
                   "Fake/d.mov": ("fake", "", False)}


def test_folder_tree_with_split_folders(tmp_path: Path) -> None:
    touch(tmp_path / "train/real/a.mp4")
    touch(tmp_path / "test/fake/b.mp4")
    report = load_dataset("folders", tmp_path)
    assert report.counts_by_split() == {"train": {"real": 1, "fake": 0}, "test": {"real": 0, "fake": 1}}


def test_txt_list_polarity_is_a_parameter(tmp_path: Path) -> None:
    touch(tmp_path / "frames/a b/0.png")
    touch(tmp_path / "frames/c/0.png")
    lst = tmp_path / "list.txt"
    lst.write_text("# comment\nframes/a b 1\nframes/c 0\nframes/gone 1\nframes/c\n\n")
    default = load_dataset("txtlist", lst)
    assert {r.path.name: r.label for r in default.records} == {"a b": "fake", "c": "real"}
    flipped = load_dataset("txtlist", lst, fake_label=0)
    assert {r.path.name: r.label for r in flipped.records} == {"a b": "real", "c": "fake"}
    assert {p.kind for p in default.problems} == {"missing", "bad_line"}


def test_detect_dataset_kind(ffpp: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    assert detect_dataset_kind(ffpp) == "ffpp"
    other = tmp_path_factory.mktemp("other")
    touch(other / "Celeb-synthesis/id0_id1_0000.mp4")
    assert detect_dataset_kind(other) == "celebdf"
    folders = tmp_path_factory.mktemp("folders")
    touch(folders / "real/a.mp4")
    assert detect_dataset_kind(folders) == "folders"
    dfdc = tmp_path_factory.mktemp("dfdc")
    write_dfdc_part(dfdc / "part0", {"a.mp4": {"label": "REAL"}})
    assert detect_dataset_kind(dfdc) == "dfdc"
    bench = folders / "bench.json"
    bench.write_text(json.dumps({"X": {"X_real": {"train": {"v": {"label": "X_real", "frames": []}}}}}))
    assert detect_dataset_kind(bench) == "deepfakebench"
    assert detect_dataset_kind(touch(folders / "list.txt")) == "txtlist"
    with pytest.raises(DatasetError, match="cannot tell"):
        detect_dataset_kind(tmp_path_factory.mktemp("empty"))


def test_load_dataset_rejects_unknown_kinds_paths_and_options(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="unknown data set kind"):
        load_dataset("imagenet", tmp_path)
    with pytest.raises(DatasetError, match="does not exist"):
        load_dataset("folders", tmp_path / "nope")
    touch(tmp_path / "real/a.mp4")
    with pytest.raises(DatasetError, match="bad option"):
        load_dataset("folders", tmp_path, polarity=1)
