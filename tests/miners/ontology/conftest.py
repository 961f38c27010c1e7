"""Fixtures of the ontology miner tests: real Oxigraph servers on free ports, shared miners.

``oxigraph`` (PyPI) is the server the service deploys over the snapshot; the tests run the same
binary. Two graphs: the shipped snapshot, and ``mini_wikidata.ttl``, a small graph shaped like
Wikidata itself (colours as instances of Q1075, aliases such as "schoolbus").
"""

from __future__ import annotations

import gzip
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from hardneg.miners.base import MinerContext
from hardneg.miners.ontology import OntologyMiner
from hardneg.miners.ontology.snapshot import default_snapshot_path
from hardneg.service.settings import Settings
from tests.procs import find_exe, free_port, wait_port

HERE = Path(__file__).parent
MINI_WIKIDATA = HERE / "mini_wikidata.ttl"


class OxigraphServer:
    """``oxigraph load`` a file into a fresh store, then ``oxigraph serve-read-only`` it."""

    def __init__(self, data: Path, workdir: Path) -> None:
        exe = find_exe("oxigraph")
        if exe is None:
            raise RuntimeError("oxigraph not found: pip install oxigraph")
        self.exe, self.data, self.workdir = exe, data, workdir
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/query"

    def start(self, store: Path | None = None) -> None:
        """Load ``data`` with ``oxigraph load``, or serve an already filled ``store``."""
        if store is None:
            store = self.workdir / "store"
            src = self.data
            if src.suffix == ".gz":  # oxigraph load reads plain files; the snapshot is gzipped
                src = self.workdir / src.stem
                src.write_bytes(gzip.decompress(self.data.read_bytes()))
            subprocess.run([self.exe, "load", "--location", str(store), "--file", str(src)],
                           check=True, capture_output=True)  # fmt: skip
        self.proc = subprocess.Popen(
            [self.exe, "serve-read-only", "--location", str(store),
             "--bind", f"127.0.0.1:{self.port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_port(self.port, proc=self.proc)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None


def serve(data: Path, workdir: Path) -> Iterator[OxigraphServer]:
    srv = OxigraphServer(data, workdir)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="session")
def snapshot_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OxigraphServer]:
    """The shipped snapshot behind a real Oxigraph SPARQL server (as deploy/oxigraph runs it)."""
    yield from serve(default_snapshot_path(), tmp_path_factory.mktemp("oxigraph-snapshot"))


@pytest.fixture(scope="session")
def mini_wikidata(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OxigraphServer]:
    """A small Wikidata-shaped graph behind a real Oxigraph server."""
    yield from serve(MINI_WIKIDATA, tmp_path_factory.mktemp("oxigraph-mini"))


def settings(**overrides: object) -> Settings:
    overrides.setdefault("quality_floor", 0.0)  # behaviour tests: no quality floor
    return Settings(_env_file=None, **overrides)


@pytest.fixture(scope="session")
def local_miner() -> OntologyMiner:
    """The embedded default: the shipped snapshot loaded in-process (pyoxigraph)."""
    return OntologyMiner(MinerContext(settings=settings()))


@pytest.fixture(scope="session")
def served_miner(snapshot_server: OxigraphServer) -> OntologyMiner:
    """The same miner configured as the service runs it: HARDNEG_SPARQL_URL -> Oxigraph."""
    return OntologyMiner(MinerContext(settings=settings(sparql_url=snapshot_server.url)))
