"""Result files: a run's files as one set, and a checkpoint that refuses chunks of another layout."""

import errno
import os
from types import SimpleNamespace

import numpy as np
import pytest

from jaxlr.cli._outputs import DirCheckpoint, OutputError, RunDir


def writer(text):
    def write(path):
        with open(path, "w") as f:
            f.write(text)
    return write


def failing(code):
    def write(path):
        with open(path, "w") as f:
            f.write("part")
        raise OSError(code, os.strerror(code))
    return write


def listing(path):
    return sorted(p.name for p in path.iterdir())


def test_a_new_directory_appears_whole(tmp_path):
    out = tmp_path / "out"
    run = RunDir(str(out))
    run.check()
    run.publish({"results.csv": writer("r"), "run.json": writer("{}")})
    assert listing(out) == ["results.csv", "run.json"] and listing(tmp_path) == ["out"]


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EACCES])
def test_a_failed_write_leaves_nothing(tmp_path, code):
    out = tmp_path / "out"
    with pytest.raises(OSError):
        RunDir(str(out)).publish({"results.csv": writer("r"), "params.npz": failing(code), "run.json": writer("{}")})
    assert listing(tmp_path) == []  # neither --out nor the staging directory


def test_a_failed_write_leaves_the_earlier_run_as_it_was(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.csv").write_text("old")
    (out / "run.json").write_text("old")
    run = RunDir(str(out), force=True)
    run.check()
    with pytest.raises(OSError):
        run.publish({"results.csv": writer("new"), "params.npz": failing(errno.ENOSPC), "run.json": writer("new")})
    assert listing(out) == ["results.csv", "run.json"]
    assert (out / "results.csv").read_text() == "old" and (out / "run.json").read_text() == "old"


def test_force_replaces_the_set_and_keeps_other_files(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    for name in ("results.csv", "heatmap.png", "run.json", "notes.txt"):
        (out / name).write_text("old")
    (out / "checkpoint").mkdir()
    with pytest.raises(OutputError, match=r"holds an earlier run \(results.csv, run.json, heatmap.png\)"):
        RunDir(str(out)).check()
    run = RunDir(str(out), force=True)
    run.check()
    run.publish({"results.csv": writer("new"), "run.json": writer("new")})
    assert listing(out) == ["checkpoint", "notes.txt", "results.csv", "run.json"]
    assert (out / "results.csv").read_text() == "new" and (out / "notes.txt").read_text() == "old"


def test_run_json_is_removed_first_and_written_last(tmp_path, monkeypatch):
    """A directory holding a run.json holds one whole run, even if publishing stops halfway."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "run.json").write_text("old")
    (out / "results.csv").write_text("old")
    seen = []
    replace = os.replace

    def spy(src, dst):
        seen.append((os.path.basename(dst), os.path.exists(out / "run.json")))
        replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    RunDir(str(out), force=True).publish({"run.json": writer("new"), "results.csv": writer("new"),
                                          "params.npz": writer("new")})
    moves = [(name, had) for name, had in seen if name in ("run.json", "results.csv", "params.npz")]
    assert [name for name, _ in moves][-1] == "run.json"
    assert not any(had for _, had in moves)  # no old run.json beside new files


def test_an_empty_directory_or_a_checkpoint_is_no_earlier_run(tmp_path):
    (tmp_path / "out" / "checkpoint").mkdir(parents=True)
    RunDir(str(tmp_path / "out")).check()


# ----------------------------------------------------------------------------- checkpoints


def chunk(first, n):
    a = np.arange(first, first + n, dtype=float)
    return SimpleNamespace(params=SimpleNamespace(coef=a[:, None], intercept=a), n_iter=a.astype(int),
                           status=np.ones(n, int), loss_history=np.zeros((n, 3)), objective=a, residual=a)


def test_resume_loads_the_chunks_in_their_places(tmp_path):
    d = str(tmp_path / "ck")
    writer_ = DirCheckpoint(d, {"k": 1}, resume=False, n_models=7)
    for c, (first, n) in enumerate([(0, 3), (3, 3), (6, 1)]):
        writer_.save(c, chunk(first, n))
    reader = DirCheckpoint(d, {"k": 1}, resume=True, n_models=7)
    reader.verify()
    got = [reader.load(c) for c in range(3)]
    np.testing.assert_array_equal(np.concatenate([np.asarray(g.objective) for g in got]), np.arange(7.0))
    assert reader.loaded == 3


def test_resume_refuses_chunks_of_another_layout(tmp_path):
    d = str(tmp_path / "ck")
    old = DirCheckpoint(d, {"k": 1}, resume=False, n_models=8)
    old.save(0, chunk(0, 4))
    old.save(1, chunk(4, 4))
    os.replace(os.path.join(d, "chunk-00001.npz"), os.path.join(d, "chunk-00000.npz"))  # chunk 1 in chunk 0's place
    reader = DirCheckpoint(d, {"k": 1}, resume=True, n_models=8)
    with pytest.raises(ValueError, match=r"holds models 4..7 of another chunk layout \(this run expects chunk 0 "
                                         r"to start at model 0\)"):
        reader.load(0)
    too_few = DirCheckpoint(str(tmp_path / "ck2"), {"k": 1}, resume=False, n_models=8)
    too_few.save(0, chunk(0, 4))
    with pytest.raises(ValueError, match="another chunk layout"):
        DirCheckpoint(str(tmp_path / "ck2"), {"k": 1}, resume=True, n_models=3).load(0)


def test_resume_refuses_another_key(tmp_path):
    d = str(tmp_path / "ck")
    DirCheckpoint(d, {"mesh": None}, resume=False).save(0, chunk(0, 2))
    with pytest.raises(ValueError, match=r"--resume: the checkpoint in .* was made with different mesh"):
        DirCheckpoint(d, {"mesh": [2, 1]}, resume=True).verify()


def test_the_checkpoint_key_holds_the_mesh_and_the_grid_size(tmp_path):
    from jaxlr import cli

    data = tmp_path / "d.csv"
    data.write_text("a,y\n1,0\n2,1\n")
    parser = cli.build_parser()
    one = parser.parse_args(["sweep", str(data), "--out", "o", "--seeds", "3", "--l2", "0,1", "--folds", "2"])
    two = parser.parse_args(["sweep", str(data), "--out", "o", "--seeds", "3", "--l2", "0,1", "--folds", "2",
                             "--mesh", "2x1"])
    from jaxlr.cli._commands import _checkpoint_key

    k1, k2 = _checkpoint_key(one), _checkpoint_key(two)
    assert k1["n_models"] == 12 and k1["mesh"] is None and k2["mesh"] == [2, 1]
    assert {k for k in k1 if k1[k] != k2[k]} == {"mesh"}
