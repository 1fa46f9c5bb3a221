"""Per-mode adapters (``agent.students.skills``) on a tiny model: routing, bad adapters,
the per-skill CTranslate2 export, and the graph asking for the mode that runs."""

from __future__ import annotations

import json
import shutil

import pytest

from agent.records import ModelCard
from agent.students import skills
from agent.students.hf import HFStudent
from solvers.files import weights_hash


def make_adapter(base, target, seed=0):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(base),
        LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False),
    )
    model.save_pretrained(target)
    card = ModelCard(
        base_model=str(base),
        base_model_sha256=weights_hash(base),
        adapter=str(target),
        train_item_ids=[f"stepgame/item-{seed}"],
        config={"exemplars": 0},
    )
    (target / "model_card.json").write_text(card.model_dump_json())
    return target


@pytest.fixture(scope="module")
def shipped(tiny_model_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("skills")
    make_adapter(tiny_model_dir, root / "spatial", seed=1)
    return root


def hf_maker(base):
    def make(mode, adapter):
        return HFStudent(base, adapter=str(adapter) if adapter else None, threads=1,
                         name=f"tiny+{mode}" if adapter else "tiny")  # fmt: skip

    return make


def test_each_mode_runs_on_its_adapter_and_the_rest_on_the_base(tiny_model_dir, shipped):
    student = skills.SkillStudent(
        hf_maker(tiny_model_dir), skills.shipped(shipped), "tiny-skills",
        base_sha256=weights_hash(tiny_model_dir),
    )  # fmt: skip
    prompt = ["ans = 2"]
    spatial = student.generate(prompt, skill="spatial", max_new_tokens=8)[0].text
    base = student.generate(prompt, skill="pad", max_new_tokens=8)[0].text
    assert student.for_skill("spatial").name == "tiny+spatial"
    assert student.for_skill("pad") is student.for_skill(None)  # no adapter: the base
    assert spatial != base  # random LoRA weights change the greedy reply
    assert student.trained_exemplars("spatial") == 0 and student.trained_exemplars("pad") is None


@pytest.mark.parametrize("damage", ["missing", "truncated", "other_base", "bad_card"])
def test_a_bad_adapter_is_a_clear_error_naming_the_file(tiny_model_dir, shipped, tmp_path, damage):
    adapter = tmp_path / "spatial"
    shutil.copytree(shipped / "spatial", adapter)
    weights = adapter / "adapter_model.safetensors"
    if damage == "missing":
        weights.unlink()
    elif damage == "truncated":
        weights.write_bytes(weights.read_bytes()[:-100])
    elif damage == "other_base":
        meta = json.loads((adapter / "model_card.json").read_text())
        meta["base_model_sha256"] = "0" * 64
        (adapter / "model_card.json").write_text(json.dumps(meta))
    else:
        (adapter / "model_card.json").write_text("{not json")
    with pytest.raises(skills.AdapterError) as err:
        skills.SkillStudent(
            hf_maker(tiny_model_dir), {"spatial": adapter}, "x",
            base_sha256=weights_hash(tiny_model_dir),
        )  # fmt: skip
    message = str(err.value)
    assert str(adapter) in message and ("retrain" in message or "reinstall" in message)
    expected = {
        "missing": "is missing",
        "truncated": "damaged",
        "other_base": "another base",
        "bad_card": "not a model card",
    }
    assert expected[damage] in message


def test_a_skill_is_exported_once_rebuilt_when_damaged_and_keeps_no_merged_copy(
    tiny_model_dir, shipped, tmp_path, monkeypatch
):
    import gc

    from agent.students.ct2 import CT2Student

    monkeypatch.setenv("NESY_HOME", str(tmp_path))
    adapter = shipped / "spatial"
    first = skills.skill_export(tiny_model_dir, adapter, "spatial", "float32")
    weights = first / "model.bin"
    stamp = weights.stat().st_mtime_ns
    assert skills.skill_export(tiny_model_dir, adapter, "spatial", "float32") == first
    assert weights.stat().st_mtime_ns == stamp  # cached: not merged again
    weights.write_bytes(weights.read_bytes()[:-64])  # a damaged cache entry
    again = skills.skill_export(tiny_model_dir, adapter, "spatial", "float32")
    assert again == first
    assert (
        skills.sha256_file(weights)
        == json.loads((again / "nesy_manifest.json").read_text())["model_sha256"]
    )
    # only the export stays: no merged Hugging Face weights beside it
    assert sorted(p.name for p in (tmp_path / "ct2").iterdir()) == [first.name]
    assert not list(tmp_path.rglob("*.safetensors"))
    # the export answers as the base with the adapter does
    ct2 = CT2Student(
        tiny_model_dir, device="cpu", threads=1,
        exporter=lambda q: skills.skill_export(tiny_model_dir, adapter, "spatial", q),
    )  # fmt: skip
    adapted = HFStudent(tiny_model_dir, adapter=str(adapter), threads=1)
    prompt = ["ans = 2"]
    try:
        assert ct2.export == first
        assert (
            ct2.generate(prompt, max_new_tokens=8)[0].text
            == adapted.generate(prompt, max_new_tokens=8)[0].text
        )
    finally:
        ct2.generator.unload_model()
        del ct2
        gc.collect()


def test_the_graph_asks_for_the_mode_that_runs(tiny_model_dir, shipped):
    from agent.api import Agent
    from agent.config import AgentConfig

    student = skills.SkillStudent(
        hf_maker(tiny_model_dir), skills.shipped(shipped), "tiny-skills",
        base_sha256=weights_hash(tiny_model_dir),
    )  # fmt: skip
    agent = Agent(
        student, None, AgentConfig(mode="spatial", max_repairs=0, syntax_retries=0,
                                   max_new_tokens=8),
    )  # fmt: skip
    answer = agent.ask("A is left of B. What is the relation of the agent A to the agent B?")
    assert answer.trace is not None
    assert "spatial" in student._students  # the spatial adapter wrote the facts


def test_read_card_of_the_default_joins_the_shipped_cards(shipped, monkeypatch):
    from agent.students import read_card

    monkeypatch.setattr(skills, "SKILLS_DIR", shipped)
    card = read_card("default")
    assert card is not None and card.train_item_ids == ["stepgame/item-1"]
    assert read_card("ct2:default") == card
    monkeypatch.setattr(skills, "SKILLS_DIR", shipped / "none")
    assert read_card("default") is None


def test_ship_copies_the_adapter_and_its_card(tiny_model_dir, shipped, tmp_path):
    from training.ship import ship

    target = ship(
        shipped / "spatial", "spatial", to=tmp_path, base_sha256=weights_hash(tiny_model_dir)
    )
    assert target == tmp_path / "spatial"
    assert sorted(p.name for p in target.iterdir()) == sorted(skills.ADAPTER_FILES)
    assert skills.card(target).adapter == "agent/skills/spatial"
    assert skills.check(target, weights_hash(tiny_model_dir)).train_item_ids == ["stepgame/item-1"]


@pytest.mark.parametrize(
    "change,why",
    [
        ({"licence": "CC BY-NC 4.0 (CLUTRR stories)"}, "cannot ship"),
        ({"base_model_sha256": ""}, "which base"),
    ],
)
def test_ship_refuses_what_the_package_cannot_carry(tiny_model_dir, shipped, tmp_path, change, why):
    from training.ship import ShipError, ship

    adapter = tmp_path / "adapter"
    shutil.copytree(shipped / "spatial", adapter)
    meta = json.loads((adapter / "model_card.json").read_text())
    (adapter / "model_card.json").write_text(json.dumps({**meta, **change}))
    with pytest.raises(ShipError, match=why):
        ship(adapter, "spatial", to=tmp_path / "skills", base_sha256=weights_hash(tiny_model_dir))
    with pytest.raises(ShipError, match="unknown mode"):
        ship(adapter, "telepathy", to=tmp_path / "skills", base_sha256="")
    assert not (tmp_path / "skills" / "spatial").exists()
