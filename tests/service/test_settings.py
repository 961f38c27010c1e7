"""Settings: documented, prefixed, and the docs reference is current."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from hardneg.miners.base import MinerContext, build_registry, discover
from hardneg.service.settings import Settings, settings_reference


def test_every_setting_is_documented_and_the_reference_is_current():
    assert all(f.description for f in Settings.model_fields.values())
    doc = Path(__file__).resolve().parents[2] / "docs" / "settings.md"
    assert doc.read_text() == settings_reference(), (
        "docs/settings.md is stale: python -m hardneg.service.settings > docs/settings.md"
    )


def test_environment_prefix_and_validation(monkeypatch):
    monkeypatch.setenv("HARDNEG_MINERS", '["vocabulary"]')
    monkeypatch.setenv("HARDNEG_DEFAULT_K", "12")
    s = Settings(_env_file=None)
    assert s.miners == ["vocabulary"] and s.default_k == 12
    monkeypatch.setenv("HARDNEG_DEFAULT_K", "0")
    with pytest.raises(ValidationError, match="default_k"):
        Settings(_env_file=None)


def test_builtin_miners_are_entry_points_and_the_allow_list_applies():
    found = discover()
    assert {"vocabulary", "ontology", "llm", "false_positive"} <= set(found)
    ctx = MinerContext(settings=Settings(_env_file=None))
    reg = build_registry(
        ctx, allow=["llm"], factories={k: found[k] for k in ("llm", "false_positive")}
    )
    assert reg.disabled["false_positive"] == "not in HARDNEG_MINERS allow-list"
    assert "HARDNEG_LLM_URL" in reg.disabled["llm"]  # no URL configured: disabled with a reason


def test_a_misspelt_variable_fails_naming_the_setting_it_resembles(monkeypatch):
    monkeypatch.setenv("HARDNEG_LLM_ULR", "http://vllm:8000/v1")
    with pytest.raises(
        ValidationError, match="unknown setting HARDNEG_LLM_ULR; did you mean HARDNEG_LLM_URL"
    ):
        Settings(_env_file=None)
    monkeypatch.delenv("HARDNEG_LLM_ULR")
    monkeypatch.setenv("HARDNEG_TEST_LLM_URL", "http://x")  # the test suite's own: not a setting
    assert Settings(_env_file=None).llm_url is None


def test_a_misspelt_key_in_a_dotenv_file_fails(tmp_path):
    env = tmp_path / ".env"
    env.write_text("HARDNEG_DEFAUL_K=5\n")
    with pytest.raises(ValidationError, match="hardneg_defaul_k"):
        Settings(_env_file=env)
