"""`sitter prepare-data`: talking-face clips into JPEG shards that train, resume after kill -9 without storing a
video twice, read with few files open, from a flat folder or VoxCeleb2's tree; bad input is one line, exit 2.

The clips are the shared fixtures' talking clips (/work/shared/fixtures/talking, with JSON landmark tracks, so
no face-alignment weights are needed), the three smallest (480 px, 175 to 250 frames)."""

import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.neural import ModelConfig, PrepareConfig, TrainConfig, checkpoint, meta_learn, prepare_data
from engine.neural.data import Episodes, load_clips, open_clips
from engine.neural.prepare import find_videos
from engine.neural.shards import INDEX, Shards

ROOT = Path(__file__).parents[1]
TALKING = Path(os.environ.get("SITTER_FIXTURES", ROOT.parent / "shared" / "fixtures")) / "talking"
CLIPS = ("clip_02", "clip_03", "clip_04")
TINY = ModelConfig(size=32, base=8, max_channels=32, g_downs=2, res_blocks=1)

pytestmark = [pytest.mark.usefixtures("one_thread"),
              pytest.mark.skipif(not TALKING.is_dir(), reason="the shared fixtures' talking clips are not here")]


def test_prepared_fixture_clips_train_for_two_steps(sitter, tmp_path: Path) -> None:
    src, out = _flat(tmp_path / "src", CLIPS[:2]), tmp_path / "prepared"
    result = sitter("prepare-data", src, "--out", out, "--size", 64, "--frames", 8)
    assert result.exit_code == 0, result.output
    assert "2 videos (2 new), 16 frames, 0 faces missed, 0 skipped" in result.output
    index = json.loads((out / INDEX).read_text())
    assert [v["frames"] for v in index["videos"]] == [8, 8] and len(index["shards"]) == 1
    names = _members(out / next(iter(index["shards"])))  # a plain tar, webdataset-style
    assert sum(n.endswith(".jpg") for n in names) == 16 and sum(n.endswith(".landmarks.npy") for n in names) == 2
    assert not any(clip in name for clip in CLIPS for name in [*names, (out / INDEX).read_text()])  # no file names

    config = TrainConfig(steps=2, k=2, batch=2, lr_eg=5e-4, lr_d=2e-3, save_every=1000, sample_every=0,
                         loader_workers=2)
    history = meta_learn(out, tmp_path / "tiny.pt", config, TINY)  # stored at 64 px, read at the model's 32
    assert len(history) == 2 and all(h["g_applied"] and h["d_applied"] and np.isfinite(h["g"]) for h in history)
    assert checkpoint.load(tmp_path / "tiny.pt")["data"]["frames"] == [8, 8]


def test_a_killed_run_resumes_without_storing_a_video_twice(tmp_path: Path) -> None:
    src, out = _flat(tmp_path / "src", CLIPS), tmp_path / "prepared"
    command = [sys.executable, "-m", "studio.cli", "prepare-data", str(src), "--out", str(out), "--size", "32",
               "--frames", "8", "--shard-mb", "0.001"]  # a shard per video: committed one by one
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    first = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while first.poll() is None and not _videos(out):
        time.sleep(0.01)
    first.send_signal(signal.SIGKILL)  # right after its first video is recorded: mid-run
    assert first.wait() == -signal.SIGKILL and 1 <= len(_videos(out)) < len(CLIPS)

    again = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert again.returncode == 0, again.stderr
    videos = _videos(out)
    assert len(videos) == len(CLIPS) and len({v["key"] for v in videos}) == len(CLIPS)
    index = json.loads((out / INDEX).read_text())
    assert sorted(p.name for p in out.glob("shard-*")) == sorted(index["shards"])  # no leftovers
    stored = Counter(name.split(".")[0] for shard in index["shards"]
                     for name in _members(out / shard) if name.endswith(".jpg"))
    assert stored == {v["key"]: 8 for v in videos}  # each video once, whole, across all the shards
    assert [len(c.frames) for c in open_clips(out, 32)] == [8, 8, 8]


def test_parallel_shards_are_read_with_a_few_files_open(tmp_path: Path) -> None:
    out = tmp_path / "prepared"
    summary = prepare_data(_flat(tmp_path / "src", CLIPS), out, PrepareConfig(frames=4, size=32, shard_mb=0.001,
                                                                              workers=2))
    shards = sorted(json.loads((out / INDEX).read_text())["shards"])  # each worker its own: run 1, workers 0, 1
    assert summary.videos == 3 and shards == ["shard-01-00-000000.tar", "shard-01-00-000001.tar",
                                              "shard-01-01-000000.tar"]
    shards = Shards(out, max_open=2)
    before = len(os.listdir("/proc/self/fd"))
    for round_ in range(3):
        for video in range(3):
            assert shards.frames(video, np.array([round_, 3])).shape == (2, 32, 32, 3)
            assert shards.open_files() <= 2 and len(os.listdir("/proc/self/fd")) <= before + 2
    shards.close()
    assert len(os.listdir("/proc/self/fd")) == before

    clips = open_clips(out, 32)
    loader = torch.utils.data.DataLoader(Episodes(clips, 2, 2, range(6), 0, 0), batch_size=None, num_workers=2)
    drawn = [e.x for e in loader]
    alone = [e.x for e in Episodes(clips, 2, 2, range(6), 0, 0)]  # the same episodes, however many workers
    assert len(drawn) == 6 and all(torch.equal(a, b) for a, b in zip(drawn, alone, strict=True))


def test_a_flat_folder_and_voxceleb2s_tree_both_work(tmp_path: Path) -> None:
    flat = _flat(tmp_path / "flat", CLIPS)
    assert [len(v) for v in find_videos(flat)] == [1, 1, 1]
    tree = tmp_path / "tree"
    for target, clip in (("id00001/vidA/00001", CLIPS[0]), ("id00001/vidA/00002", CLIPS[1]),
                         ("id00002/vidB/00001", CLIPS[2])):
        _link(TALKING / clip, tree / target)
    assert [len(v) for v in find_videos(tree)] == [2, 1]  # the clips of a folder are one video
    summary = prepare_data(tree, tmp_path / "prepared", PrepareConfig(frames=4, size=32))
    assert (summary.videos, summary.frames, summary.missed) == (2, 12, 0)
    assert sorted(len(c.frames) for c in open_clips(tmp_path / "prepared", 32)) == [4, 8]
    # trained on as it is, the tree is prepared into its cache, and read in path order (--holdout: the last)
    assert [len(c.frames) for c in load_clips(tree, 32)] == [64, 32]
    assert (tree / ".sitter-cache" / "32px" / INDEX).is_file()


def test_a_clip_without_a_track_is_detected_in_batches_and_misses_counted(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The face-alignment path, with a stand-in for its networks (no weights here): each batch holds frames of
    one clip, and a frame with no face found is counted, not stored."""
    from engine import read_track

    src = tmp_path / "src"
    src.mkdir()
    (src / "clip.mp4").symlink_to(TALKING / "clip_02.mp4")  # no track beside it
    face = read_track(TALKING / "clip_02.landmarks.json").points[0]
    batches = []

    class StandIn:
        def detect_batch(self, images: list[np.ndarray]) -> list[list[np.ndarray]]:
            batches.append(len(images))
            assert len({image.shape for image in images}) == 1
            return [[] if (len(batches) == 1 and i == 0) else [face] for i in range(len(images))]

    monkeypatch.setattr("engine.neural.prepare.Detector", StandIn)
    summary = prepare_data(src, tmp_path / "prepared", PrepareConfig(frames=20, size=32))
    assert batches == [8, 8, 4] and (summary.frames, summary.missed) == (19, 1)


def test_bad_input_is_one_line_and_exit_2(sitter, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    src = _flat(tmp_path / "src", CLIPS[:1])
    (src / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 not really a video")
    cases = [(empty, "no training videos"), (tmp_path / "missing", "does not exist"),
             (src, "a training video can't be opened")]
    for folder, message in cases:
        result = sitter("prepare-data", folder, "--out", tmp_path / f"out-{folder.name}", "--size", 32)
        errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
        assert result.exit_code == 2 and len(errors) == 1 and message in errors[0], result.output
        assert "Traceback" not in result.output
    assert "video 1 of 2 in path order" in result.output
    skipped = sitter("prepare-data", src, "--out", tmp_path / "out-src", "--size", 32, "--skip-bad")
    assert skipped.exit_code == 0 and "1 videos (1 new)" in skipped.output and "1 skipped" in skipped.output


# helpers


def _flat(folder: Path, clips: tuple[str, ...]) -> Path:
    for clip in clips:
        _link(TALKING / clip, folder / clip)
    return folder


def _link(clip: Path, target: Path) -> None:
    """CLIP.mp4 and its track, linked as TARGET.mp4 and TARGET.landmarks.json."""
    target.parent.mkdir(parents=True, exist_ok=True)
    (target.parent / f"{target.name}.mp4").symlink_to(clip.with_suffix(".mp4"))
    (target.parent / f"{target.name}.landmarks.json").symlink_to(clip.with_suffix(".landmarks.json"))


def _members(shard: Path) -> list[str]:
    with tarfile.open(shard) as tar:
        return tar.getnames()


def _videos(out: Path) -> list[dict]:
    try:
        return json.loads((out / INDEX).read_text())["videos"]
    except (OSError, ValueError):
        return []
