"""Teacher traces, verified: convert a teacher's outputs into candidate programs, run each
through the one verifier (``agent.verify``), keep what matches gold, and say why the rest
was rejected (parse_error, solver_error, timeout, wrong_answer, duplicate, too_long).

Teachers (named like the agent's model specs):

- ``silver:gsm8k``: GSM8K train's human solutions through ``training.exemplars``;
- ``silver:stepgame``: StepGame dev stories as ``rel/3`` facts by a template parser
  (``training.stepgame``), kept when ``spatial.lp`` answers the gold label;
- ``synth:kinship``: generated family stories with their facts (``training.kinship``),
  the gold derived by ``kinship.lp``; ours, so it may ship;
- ``replay:FILE``: recorded teacher outputs that may feed training: PAL AQuA
  (``pal_aqua_codex_outputs.jsonl``) and Logic-LM's GPT-4 programs for ProofWriter and
  ProntoQA dev. The test-set files (Codex PoT GSM8K/SVAMP, the StepGame answers, the
  ``gpt3-*_gsm8k_test`` solutions) are refused: they are same-item baselines only.

    nesy distill verify --teacher silver:gsm8k --data ../shared/data --limit 500
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent import verify
from solvers.files import sha256_file
from training.data import Provenance, Trace

MAX_PROGRAM_CHARS = 4000
EVAL_ONLY = (
    "pot_codex_gsm8k_test_fewshot.jsonl",
    "pot_codex_svamp_fewshot.jsonl",
    "stepgame_davinci003_direct.jsonl",
    "_gsm8k_test.jsonl",
)
# Licences of the files teachers read (../shared/data/README.md); a trace carries its own.
LICENCES = {
    "train.jsonl": "MIT (openai/grade-school-math)",
    "pal_aqua_codex_outputs.jsonl": "Apache-2.0 (reasoning-machines/pal; AQuA: Apache-2.0)",
    "logiclm_ProofWriter_dev_gpt-4_logic_programs.jsonl": "MIT (teacherpeterpan/Logic-LLM)",
    "logiclm_ProntoQA_dev_gpt-4_logic_programs.jsonl": "MIT (teacherpeterpan/Logic-LLM)",
    "clutrr_davinci003_facts.jsonl": "CC BY-NC 4.0 (CLUTRR stories; LLM-ASP parses)",
    "valid_k1-10.jsonl": "MIT (ZhengxiangShi/StepGame)",
}
CLUTRR_GOLD = "clutrr/llmasp_clutrr_1.3"  # beside teacher_traces/: the stories' query + gold
STEPGAME_SOURCE = "stepgame/valid_k1-10.jsonl"
REASONS = ("parse_error", "solver_error", "timeout", "wrong_answer", "duplicate", "too_long")


class TeacherError(ValueError):
    """A teacher spec or file that cannot feed training; the message says why."""


@dataclass
class Candidate:
    """One teacher output as a program to verify (``reason`` set when conversion failed)."""

    source: str
    task: str
    item_id: str
    mode: str
    program: str
    gold: Any
    reason: str | None = None
    options: dict[str, str] | None = None  # multiple choice: gold is the option's letter
    question: str = ""
    group: str = ""
    provenance: Provenance | None = None
    steps: list[str] | None = None  # socratic: the plan
    check: str | None = None  # the program verification runs, when not ``program`` itself
    difficulty: int | None = None  # the task's difficulty (hops, chain length, depth)
    note: str = ""  # why conversion failed, in the teacher's words


@dataclass
class Checked:
    candidate: Candidate
    kept: bool
    reason: str | None
    answer: Any = None

    def trace(self) -> Trace:
        c = self.candidate
        assert c.provenance is not None
        return Trace(
            source=c.source, task=c.task, item_id=c.item_id, group=c.group or c.item_id,
            mode=c.mode, question=c.question, program=c.program, gold=c.gold,
            answer=_plain(self.answer), kept=self.kept, reason=self.reason,
            provenance=c.provenance, steps=c.steps or [], difficulty=c.difficulty,
            note=c.note,
        )  # fmt: skip


def _plain(value: Any) -> Any:
    """An answer as JSON can hold it (solver answers may be sympy numbers or tuples)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return str(value)


def provenance(teacher: str, path: Path) -> Provenance:
    return Provenance(
        teacher=teacher,
        file=str(path),
        sha256=sha256_file(path),
        licence=LICENCES.get(path.name, "see ../shared/data/README.md"),
    )


def candidates(
    teacher: str, data: Path | None = None, limit: int | None = None
) -> Iterator[Candidate]:
    """The candidates a teacher spec names."""
    kind, _, rest = teacher.partition(":")
    if kind in ("silver", "socratic") and rest == "gsm8k":
        if data is None:
            raise TeacherError(f"{teacher} needs --data (the folder with gsm8k/train.jsonl)")
        yield from _silver_gsm8k(Path(data), limit, socratic=kind == "socratic")
    elif kind == "silver" and rest == "stepgame":
        if data is None:
            raise TeacherError(f"{teacher} needs --data (the folder with {STEPGAME_SOURCE})")
        from training import stepgame

        path = Path(data) / stepgame.SOURCE
        if not path.is_file():
            raise TeacherError(f"no StepGame file at {path}")
        for fields in stepgame.candidates(Path(data), limit, provenance(teacher, path)):
            yield Candidate(**fields)
    elif kind == "synth" and rest == "kinship":
        from training import kinship

        source = Path(kinship.__file__)
        prov = Provenance(
            teacher=teacher, file=f"{source.name} (generated)", sha256=sha256_file(source),
            licence="Apache-2.0 (generated by nesy)",
        )  # fmt: skip
        for fields in kinship.candidates(limit, prov):
            yield Candidate(**fields)
    elif kind == "replay" and rest:
        yield from _replay(Path(rest).expanduser(), limit)
    else:
        raise TeacherError(
            f"unknown teacher {teacher!r}; use silver:gsm8k, socratic:gsm8k, silver:stepgame, "
            "synth:kinship or replay:FILE"
        )


def _silver_gsm8k(data: Path, limit: int | None, socratic: bool = False) -> Iterator[Candidate]:
    """GSM8K train's solutions as PaD programs, or (``socratic``) as a plan of steps with
    the program, each step's result checked against the solution's annotation."""
    from training.exemplars import SOURCE, silver_program, step_check

    path = data / SOURCE
    if not path.is_file():
        raise TeacherError(f"no GSM8K train file at {path}")
    source = "socratic:gsm8k" if socratic else "silver:gsm8k"
    prov = provenance(source, path)
    with open(path) as f:
        for number, line in enumerate(f, 1):
            if limit is not None and number > limit:
                return
            row = _row(path, number, line)
            silver = silver_program(row.get("question", ""), row.get("solution", ""))
            item_id = str(row.get("id", f"gsm8k-train-{number - 1}"))
            gold = row.get("answer")
            check = None
            if socratic and silver and gold is not None:
                check = step_check(silver, gold)  # its ans: the first step that disagrees
            yield Candidate(
                source=source,
                task="gsm8k",
                item_id=item_id,
                mode="socratic" if socratic else "pad",
                program=silver.program if silver else "",
                gold=gold,
                reason=None if silver else "parse_error",
                question=str(row.get("question", "")),
                group=item_id,
                provenance=prov,
                steps=silver.plan if silver and socratic else None,
                check=check,
            )


def _replay(path: Path, limit: int | None) -> Iterator[Candidate]:
    name = path.name
    if any(name.endswith(e) for e in EVAL_ONLY):
        raise TeacherError(
            f"{name} holds outputs for an evaluation set: it is a same-item baseline, never "
            "training data (allowed: PAL AQuA, Logic-LM ProofWriter/ProntoQA dev)"
        )
    if not path.is_file():
        raise TeacherError(f"no teacher file at {path}")
    source = f"replay:{name}"
    prov = provenance(source, path)
    gold_by_story: dict[str, tuple[str, tuple[str, str], str]] | None = None
    with open(path) as f:
        for number, line in enumerate(f, 1):
            if limit is not None and number > limit:
                return
            row = _row(path, number, line)
            if "generated_answer" in row:  # PAL AQuA
                _, program = verify.pal_program(row)
                letter = str(row.get("answer", "")).strip("() ").lower()
                options = verify.choices(row["question"])
                yield Candidate(
                    source, "aqua", f"aqua-{number - 1}", "pad", program, letter, options=options,
                    question=str(row["question"]), provenance=prov,
                )  # fmt: skip
            elif "raw_logic_programs" in row:  # Logic-LM
                task = "prontoqa" if "ProntoQA" in str(row.get("id", name)) else "proofwriter"
                gold = _option_label(row)
                reason: str | None = None
                try:
                    facts = verify.logiclm_facts(
                        row["raw_logic_programs"][0], closed_world=task == "prontoqa"
                    )
                except (ValueError, IndexError, KeyError):
                    facts, reason = "", "parse_error"
                sid = str(row.get("id"))
                yield Candidate(
                    source, task, sid, "deductive", facts, gold, reason,
                    question=f"{str(row.get('context', '')).strip()}\n"
                    f"{str(row.get('question', '')).strip()}",
                    group=sid.rsplit("_Q", 1)[0], provenance=prov,
                )  # fmt: skip
            elif isinstance(row.get("output"), str) and "input" in row:  # LLM+ASP CLUTRR facts
                if gold_by_story is None:
                    gold_by_story = _clutrr_gold(path.parent.parent / CLUTRR_GOLD)
                joined = gold_by_story.get(_story_key(str(row["input"])))
                if joined is None:
                    continue  # a story from a CLUTRR file not shipped: no gold to verify
                item_id, (a, b), target = joined
                yield Candidate(
                    source, "clutrr", item_id, "asp", verify.llm_asp_facts(row["output"], (a, b)),
                    target, question=f"{str(row['input']).strip()}\nWho is {b} to {a}?",
                    group=item_id, provenance=prov,
                )  # fmt: skip
            else:
                raise TeacherError(
                    f"{path}:{number}: not a PAL, Logic-LM or LLM+ASP record "
                    f"(fields: {sorted(row)})"
                )


def _story_key(text: str) -> str:
    return " ".join(text.split()).lower()


def _clutrr_gold(folder: Path) -> dict[str, tuple[str, tuple[str, str], str]]:
    """story -> (item id ``<file stem>-<index>`` as the bench names it, query pair, gold)."""
    import ast
    import csv

    if not folder.is_dir():
        raise TeacherError(f"the CLUTRR teacher needs its gold stories at {folder}")
    out = {}
    for csv_path in sorted(folder.glob("*.csv")):
        with open(csv_path, newline="") as f:
            for row in csv.DictReader(f):
                pair = ast.literal_eval(row["query"])
                item_id = f"{csv_path.stem}-{row.get('') or row.get('index', '')}"
                out[_story_key(row["story"])] = (item_id, (pair[0], pair[1]), row["target"])
    return out


def _row(path: Path, number: int, line: str) -> dict[str, Any]:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise TeacherError(f"{path}:{number}: invalid JSON ({exc.msg})") from None
    if not isinstance(row, dict):
        raise TeacherError(f"{path}:{number}: not a JSON object")
    return row


def _option_label(row: dict[str, Any]) -> str | None:
    """Logic-LM's answer letter (``A``) as the option's label (``true``)."""
    letter = str(row.get("answer", "")).strip()
    for option in row.get("options", []):
        head, _, label = str(option).partition(")")
        if head.strip() == letter:
            return label.strip().lower()
    return None


def check(cands: Iterable[Candidate], timeout_s: float = 2.0) -> list[Checked]:
    """Verify every candidate; keep the first of identical programs."""
    seen: set[tuple[str, str]] = set()
    out = []
    for c in cands:
        reason = c.reason
        answer = None
        if reason is None and c.gold is None:
            reason = "parse_error"  # nothing to verify against
        if reason is None and len(c.program) > MAX_PROGRAM_CHARS:
            reason = "too_long"
        key = (c.task, " ".join(c.program.split()))
        if reason is None and key in seen:
            reason = "duplicate"
        if reason is None:
            if c.check:  # 0 when every step agrees with its annotation and the last with gold
                v = verify.run(c.mode, [c.check], 0, timeout_s=timeout_s)
                answer = c.gold if v.verified else v.answer
            else:
                v = verify.run(c.mode, [c.program], c.gold, timeout_s=timeout_s, options=c.options)
                answer = v.answer
            reason = v.failure.value if v.failure is not None else None
        if reason is None:
            seen.add(key)
        out.append(Checked(c, reason is None, reason, answer))
    return out


def summary(checked: Iterable[Checked]) -> list[dict[str, Any]]:
    """Per source and task: kept, rejected, the rejection reasons; where the teacher gives
    them, the yield by difficulty ("kept/all") and its most common notes."""
    groups: dict[tuple[str, str], Counter[str]] = {}
    by_level: dict[tuple[str, str], dict[int, Counter[str]]] = {}
    notes: dict[tuple[str, str], Counter[str]] = {}
    for r in checked:
        key = (r.candidate.source, r.candidate.task)
        counts = groups.setdefault(key, Counter())
        counts["kept" if r.kept else str(r.reason)] += 1
        if r.candidate.difficulty is not None:
            level = by_level.setdefault(key, {}).setdefault(r.candidate.difficulty, Counter())
            level["all"] += 1
            level["kept"] += r.kept
        if r.candidate.note:
            notes.setdefault(key, Counter())[r.candidate.note] += 1
    out = []
    for key, counts in sorted(groups.items()):
        row: dict[str, Any] = {
            "source": key[0],
            "task": key[1],
            "kept": counts["kept"],
            "rejected": sum(v for k, v in counts.items() if k != "kept"),
            "reasons": {k: counts[k] for k in REASONS if counts[k]},
        }
        if key in by_level:
            row["kept_by_difficulty"] = {
                k: f"{c['kept']}/{c['all']}" for k, c in sorted(by_level[key].items())
            }
        if key in notes:
            row["notes"] = dict(notes[key].most_common(10))
        out.append(row)
    return out
