"""A worker never runs model bytes it has not verified: a file planted where an upload
goes is replaced, a file swapped after the upload is refused when the session is built,
and the upload folder is private to the user."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from e2e_coffea.exceptions import ModelHashError, ModelUploadError
from e2e_coffea.facility import parse_cluster_config
from e2e_coffea.facility.config import ModelsConfig
from e2e_coffea.facility.plugins import ModelUploadPlugin, private_dir, ship_models
from e2e_coffea.inference import Tagger
from e2e_coffea.inference.sessions import clear_cache, get_session

REPO = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory, make_tagger: Callable[..., Path]) -> Path:
    """Another model of the same architecture and size: other weights, same bytes count."""
    return make_tagger(tmp_path_factory.mktemp("planted") / "jet.onnx", kind="jet", seed=7)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_planted_same_size_file_is_replaced_by_the_upload(
    tmp_path: Path, jet_tagger: Path, planted: Path
) -> None:
    data = jet_tagger.read_bytes()
    assert planted.stat().st_size == len(data)
    assert planted.read_bytes() != data
    dest = tmp_path / "models" / hashlib.sha256(data).hexdigest()[:16] / "jet.onnx"
    dest.parent.mkdir(parents=True, mode=0o700)
    (tmp_path / "models").chmod(0o700)
    shutil.copy(planted, dest)
    ModelUploadPlugin({str(dest): data}).setup(worker=None)
    assert dest.read_bytes() == data
    ModelUploadPlugin({str(dest): data}).setup(worker=None)  # the right file is kept
    assert dest.read_bytes() == data


def test_session_refuses_bytes_that_are_not_the_taggers(
    tmp_path: Path, jet_tagger: Path, planted: Path
) -> None:
    model = tmp_path / "jet.onnx"
    shutil.copy(jet_tagger, model)
    tagger = Tagger(model, device="cpu")
    assert tagger.spec.sha256 == _sha(jet_tagger)
    shutil.copy(planted, model)  # swapped between the upload (or the client's look) and use
    clear_cache()
    try:
        with pytest.raises(ModelHashError, match=f"model file {model} does not match its sha256"):
            tagger.backend("cpu").session()
        with pytest.raises(ModelHashError) as err:
            get_session(model, "cpu", 1, sha256=_sha(jet_tagger))
        assert "\n" not in str(err.value)
        # the right bytes load, from the same path, also converted to float16
        assert get_session(model, "cpu", 1, sha256=_sha(planted)) is not None
        assert get_session(model, "cpu", 1, fp16=True, sha256=_sha(planted)) is not None
    finally:
        clear_cache()


def test_upload_folder_is_private(tmp_path: Path) -> None:
    fresh = private_dir(tmp_path / "a" / "models")
    assert fresh.stat().st_mode & 0o777 == 0o700
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)  # as /tmp/e2e-coffea-models, created first by someone else
    with pytest.raises(ModelUploadError, match=f"model folder {shared} on this worker is not"):
        private_dir(shared)
    if os.getuid() == 0:  # only root can give a folder away; check the owner too
        theirs = tmp_path / "theirs"
        theirs.mkdir(mode=0o700)
        os.chown(theirs, 12345, 12345)
        with pytest.raises(ModelUploadError, match="owner uid 12345"):
            private_dir(theirs)


def test_default_worker_dir_is_per_user_in_every_shipped_config() -> None:
    for name in ("local.yaml", "htcondor-gpu.yaml"):
        doc = yaml.safe_load((REPO / "facility" / name).read_text())
        cfg = parse_cluster_config(doc, source=name)
        assert cfg.models.ship == "upload"
        assert cfg.models.worker_dir.startswith("~/"), name
    assert ModelsConfig().worker_dir.startswith("~/")


def test_upload_through_a_cluster_replaces_a_planted_file(
    tmp_path: Path, jet_tagger: Path, planted: Path
) -> None:
    from distributed import Client, LocalCluster

    digest = _sha(jet_tagger)
    worker_dir = tmp_path / "models"
    dest = worker_dir / digest[:16] / jet_tagger.name
    dest.parent.mkdir(parents=True, mode=0o700)
    worker_dir.chmod(0o700)
    shutil.copy(planted, dest)
    with (
        LocalCluster(
            n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        (spec,) = ship_models(client, [jet_tagger], str(worker_dir))
        assert spec.path == str(dest)
        assert spec.sha256 == digest
        assert dest.read_bytes() == jet_tagger.read_bytes()
        shutil.copy(planted, dest)  # planted again after the upload: the worker refuses it

        def load() -> object:
            return Tagger(spec, device="cpu").backend("cpu").session()

        try:
            with pytest.raises(ModelHashError, match=str(dest)):
                client.submit(load, pure=False).result()
        finally:
            clear_cache()
