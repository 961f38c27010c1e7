"""The miner contract: an out-of-tree miner registered through the real entry-point mechanism
(a distribution's metadata on sys.path), hooks called as declared, timeouts reported as such."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from pathlib import Path

import pytest

from hardneg.miners.base import (
    ENTRY_POINT_GROUP,
    MineQuery,
    MinerBase,
    MinerContext,
    MinerOutput,
    build_registry,
    discover,
)
from hardneg.miners.errors import MinerTimeout
from hardneg.miners.ontology.sparql import SparqlTimeout
from hardneg.miners.types import NegativesRequest

PLUGIN = '''
from hardneg.miners.base import MinerBase, MinerOutput, MinerTraits
from hardneg.miners.types import Candidate, Kind


class PluginMiner(MinerBase):
    """An out-of-tree miner, as a third party would ship it."""

    name = "plugin"
    version = "7"
    snapshot_id = "plugin-data@1"
    traits = MinerTraits(band_exempt=True)

    def __init__(self, ctx):
        self.readied = False

    async def ready(self, progress=None):
        self.readied = True

    async def check(self):
        return True, "plugin data loaded"

    async def mine(self, query, ctx):
        return MinerOutput(candidates=[
            Candidate(phrase="red wheelbarrow", for_positive=query.positive, source=self.name,
                      kind=Kind.type, evidence={"from": "plugin"}),
        ])


class HalfMiner:
    """Written against an old, informal contract: no hooks at all."""

    name, version = "half", "1"

    def __init__(self, ctx):
        pass

    async def mine(self, query, ctx):
        raise AssertionError("never called")
'''


@pytest.fixture
def plugin_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A distribution on sys.path whose metadata declares two miners under hardneg.miners."""
    (tmp_path / "hardneg_plugin_demo.py").write_text(PLUGIN)
    info = tmp_path / "hardneg_plugin_demo-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: hardneg-plugin-demo\nVersion: 0.1\n"
    )
    (info / "entry_points.txt").write_text(
        textwrap.dedent(
            f"""\
            [{ENTRY_POINT_GROUP}]
            plugin = hardneg_plugin_demo:PluginMiner
            half = hardneg_plugin_demo:HalfMiner
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    sys.modules.pop("hardneg_plugin_demo", None)


def test_out_of_tree_miner_is_discovered_through_its_entry_point(plugin_dist):
    found = discover()
    assert {"plugin", "half", "vocabulary", "ontology"} <= set(found)
    assert found["plugin"].__module__ == "hardneg_plugin_demo"


def test_a_miner_missing_hooks_is_disabled_saying_what_is_missing(plugin_dist):
    reg = build_registry(MinerContext(), factories={"half": discover()["half"]})
    assert "half" not in reg.miners
    why = reg.disabled["half"]
    assert "missing traits, ready, data_version, check, aclose" in why and "MinerBase" in why


async def test_pipeline_mines_with_the_out_of_tree_miner(plugin_dist, make_pipeline):
    factories = {k: v for k, v in discover().items() if k in ("plugin", "vocabulary")}
    pipe = make_pipeline(factories=factories, miners=["plugin", "vocabulary"])
    try:
        await pipe.warm_up()
        plugin = pipe.registry.miners["plugin"]
        assert plugin.readied  # type: ignore[attr-defined]
        resp = await pipe.mine(NegativesRequest.for_concept("white bucket", k=10))
        item = resp.items[0]
        mine = [n for n in item.negatives if "plugin" in n.sources]
        assert [n.phrase for n in mine] == ["red wheelbarrow"]
        assert mine[0].evidence["plugin"] == {"from": "plugin"}
        assert (
            resp.versions["miner:plugin"] == "7" and resp.versions["data:plugin"] == "plugin-data@1"
        )
        ready = await pipe.readiness()
        assert ready["miner:plugin"] == {"ok": True, "detail": "plugin data loaded"}
    finally:
        await pipe.aclose()


class _RaisesTimeout(MinerBase):
    name, version = "sparql-ish", "1"

    def __init__(self, ctx: MinerContext) -> None: ...

    async def mine(self, query: MineQuery, ctx: MinerContext) -> MinerOutput:
        await asyncio.sleep(0)
        raise SparqlTimeout("wdqs: no answer in 0.3s")


async def test_a_miners_own_timeout_reports_timeout_not_error(make_pipeline):
    assert issubclass(SparqlTimeout, MinerTimeout) and issubclass(MinerTimeout, TimeoutError)
    pipe = make_pipeline(factories={"sparql-ish": _RaisesTimeout}, miners=None)
    try:
        resp = await pipe.mine(NegativesRequest.for_concept("kettle", k=5))
    finally:
        await pipe.aclose()
    st = resp.items[0].miners["sparql-ish"]
    assert st.status == "timeout" and st.error == "wdqs: no answer in 0.3s"
    assert resp.items[0].degraded
